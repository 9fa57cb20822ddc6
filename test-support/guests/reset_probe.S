/*
 * A test guest for system_reset: it prints, on isa-debugcon (0x402), the
 * state of the in-kernel interrupt controllers and PIT as it finds them,
 * then changes that state and halts:
 *
 *   "IMR=xx REDIR0=xxxxxxxx PIT0=xx!\n"
 *
 * IMR: the master PIC's interrupt mask (port 0x21). REDIR0: the low
 * dword of IOAPIC redirection entry 0 (MMIO at 0xfec00000). PIT0: the
 * status of PIT counter 0 from a read-back command (port 0x43, 0xe2),
 * without the OUTPUT and NULL COUNT bits, which move with time. It then
 * masks PIC lines with 0xa5, unmasks IOAPIC entry 0 with vector 0xab and
 * programs PIT counter 0 in mode 2. After a reset that puts the three
 * back, the next boot prints the same line again.
 *
 * Built by test-support/build.rs:
 *   as --32 -I guests -o reset_probe.o reset_probe.S
 *   ld -m elf_i386 -Ttext=0xffff0000 --oformat binary -o reset_probe.bin reset_probe.o
 */
        .include "pmode.inc"

        .set DEBUGCON, 0x402
        .set IOREGSEL, 0xfec00000
        .set IOWIN, 0xfec00010

        .text
        .globl  _start
_start:
        enter_protected_mode start32
start32:
        load_flat_segments
        movl    $msg_imr, %esi
        call    puts
        inb     $0x21, %al
        call    hex8
        movl    $msg_redir, %esi
        call    puts
        movl    $0x10, IOREGSEL
        movl    IOWIN, %eax
        call    hex32
        movl    $msg_pit, %esi
        call    puts
        movb    $0xe2, %al              /* read back: status of counter 0 */
        outb    %al, $0x43
        inb     $0x40, %al
        andb    $0x3f, %al
        call    hex8
        movl    $msg_end, %esi
        call    puts
        /* Change all three. */
        movb    $0xa5, %al
        outb    %al, $0x21
        movl    $0x10, IOREGSEL
        movl    $0x000000ab, IOWIN
        movb    $0x34, %al              /* counter 0, lo/hi byte, mode 2 */
        outb    %al, $0x43
        movb    $0x34, %al
        outb    %al, $0x40
        movb    $0x12, %al
        outb    %al, $0x40
1:      hlt
        jmp     1b

/* Prints the NUL-terminated string at ESI. */
puts:
        movw    $DEBUGCON, %dx
2:      lodsb
        testb   %al, %al
        jz      3f
        outb    %al, %dx
        jmp     2b
3:      ret

/* Prints AL as two hex digits. */
hex8:
        pushl   %eax
        shrb    $4, %al
        call    nibble
        popl    %eax
        /* fall through for the low nibble */
nibble:
        pushl   %eax
        andb    $0x0f, %al
        addb    $'0', %al
        cmpb    $'9', %al
        jbe     4f
        addb    $('a' - '0' - 10), %al
4:      movw    $DEBUGCON, %dx
        outb    %al, %dx
        popl    %eax
        ret

/* Prints EAX as eight hex digits. */
hex32:
        movl    $4, %ecx
5:      roll    $8, %eax
        call    hex8
        loop    5b
        ret

msg_imr:   .asciz "IMR="
msg_redir: .asciz " REDIR0="
msg_pit:   .asciz " PIT0="
msg_end:   .asciz "!\n"

        gdt_and_reset_vector
