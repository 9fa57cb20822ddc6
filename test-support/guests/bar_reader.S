/*
 * A small test guest for the `pc` board: a 64 KiB BIOS image that enters
 * 32-bit protected mode (flat 4 GiB segments, no paging), programs BAR 0
 * of the PCI function in slot 2 (an xHCI controller) through 0xcf8/0xcfc,
 * enables memory decoding and bus mastering, and reads the BAR's first
 * dword (CAPLENGTH | HCIVERSION << 16 = 0x01000040).
 *
 * Built by test-support/build.rs (GNU as and ld from binutils):
 *   as --32 -I guests [--defsym BENCH=1] -o X.o bar_reader.S
 *   ld -m elf_i386 -Ttext=0xffff0000 --oformat binary -o X.bin X.o
 *
 * Default (hot-plug test): forever re-program the BAR and read it once;
 * ESI counts reads that returned the controller's value, EDI reads that
 * returned all ones (unassigned: the device was unplugged or not yet
 * programmed). Any other value ends the run through isa-debug-exit
 * (port 0xf4) with status (2 << 1) | 1 = 5. After the first read served,
 * it prints "served\n" on isa-debugcon (0x402), once, so that a test
 * can wait for the guest to have read the controller before unplugging.
 *
 * BENCH=1 (benchmark): 1,000,000 reads of isa-debugcon's port 0x402
 * (0xe9 each), then 1,000,000 reads of the BAR's first dword, then
 * exit with status (0 << 1) | 1 = 1; a wrong value exits with 5.
 */
        .include "pmode.inc"

        .set SLOT, 2
        .set CFG, 0x80000000 | (SLOT << 11)
        .set BAR, 0xfebf0000
        .set CAP_WORD, 0x01000040
        .set EXIT_PORT, 0xf4
        .set COUNT, 1000000

        .text
        .globl  _start
_start:
        enter_protected_mode start32
start32:
        load_flat_segments
        xorl    %esi, %esi
        xorl    %edi, %edi
.ifdef BENCH
        movw    $0x402, %dx
        movl    $COUNT, %ecx
1:      inb     %dx, %al
        cmpb    $0xe9, %al
        jne     fail
        loop    1b
        call    program
        movl    $COUNT, %ecx
2:      movl    BAR, %eax
        cmpl    $CAP_WORD, %eax
        jne     fail
        loop    2b
        xorl    %eax, %eax
        outl    %eax, $EXIT_PORT
        jmp     .
.else
3:      call    program
        movl    BAR, %eax
        cmpl    $CAP_WORD, %eax
        je      4f
        cmpl    $0xffffffff, %eax
        jne     fail
        incl    %edi
        jmp     3b
4:      incl    %esi
        cmpl    $1, %esi
        jne     3b
        movl    $served, %ebx           /* the first read served: say so */
        movw    $0x402, %dx
5:      movb    (%ebx), %al
        testb   %al, %al
        jz      3b
        outb    %al, %dx
        incl    %ebx
        jmp     5b
.endif

/* BAR 0 := BAR; COMMAND := memory space | bus master. */
program:
        movw    $0xcf8, %dx
        movl    $(CFG | 0x10), %eax
        outl    %eax, %dx
        movw    $0xcfc, %dx
        movl    $BAR, %eax
        outl    %eax, %dx
        movw    $0xcf8, %dx
        movl    $(CFG | 0x04), %eax
        outl    %eax, %dx
        movw    $0xcfc, %dx
        movw    $0x0006, %ax
        outw    %ax, %dx
        ret

fail:
        movl    $2, %eax
        outl    %eax, $EXIT_PORT
        jmp     .

served: .asciz  "served\n"

        gdt_and_reset_vector
