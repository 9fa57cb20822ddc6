/*
 * A test guest that prints the configuration space of PCI function
 * 00:02.0 on isa-debugcon (0x402), one line per dword, then halts:
 *
 *   "CFG 00 000d1b36\n" ... "CFG fc ........\n" "END\n"
 *
 * Nothing programs the function first: what it prints is the function as
 * plugged (BARs unassigned), which QEMU and our pc must agree on.
 *
 * Built by test-support/build.rs:
 *   as --32 -I guests -o pci_dump.o pci_dump.S
 *   ld -m elf_i386 -Ttext=0xffff0000 --oformat binary -o pci_dump.bin pci_dump.o
 */
        .include "pmode.inc"

        .set DEBUGCON, 0x402

        .text
        .globl  _start
_start:
        enter_protected_mode start32
start32:
        load_flat_segments
        xorl    %ebx, %ebx              /* register offset */
1:      movl    $msg_cfg, %esi
        call    puts
        movb    %bl, %al
        call    hex8
        movb    $' ', %al
        movw    $DEBUGCON, %dx
        outb    %al, %dx
        movl    $0x80001000, %eax       /* bus 0, device 2, function 0 */
        orl     %ebx, %eax
        movw    $0xcf8, %dx
        outl    %eax, %dx
        movw    $0xcfc, %dx
        inl     %dx, %eax
        call    hex32
        movb    $'\n', %al
        movw    $DEBUGCON, %dx
        outb    %al, %dx
        addl    $4, %ebx
        cmpl    $0x100, %ebx
        jne     1b
        movl    $msg_end, %esi
        call    puts
2:      hlt
        jmp     2b

/* Prints the NUL-terminated string at ESI. */
puts:
        movw    $DEBUGCON, %dx
3:      lodsb
        testb   %al, %al
        jz      4f
        outb    %al, %dx
        jmp     3b
4:      ret

/* Prints AL as two hex digits. */
hex8:
        pushl   %eax
        shrb    $4, %al
        call    nibble
        popl    %eax
nibble:
        pushl   %eax
        andb    $0x0f, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     5f
        addb    $('a' - '0' - 10), %al
5:      movw    $DEBUGCON, %dx
        outb    %al, %dx
        popl    %eax
        ret

/* Prints EAX as eight hex digits. */
hex32:
        movl    $4, %ecx
6:      roll    $8, %eax
        call    hex8
        loop    6b
        ret

msg_cfg:   .asciz "CFG "
msg_end:   .asciz "END\n"

        gdt_and_reset_vector
