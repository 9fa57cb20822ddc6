/*
 * A test guest for migration: it counts, and prints each count on
 * isa-debugcon (0x402) as eight hex digits and a newline, about a
 * thousand a second. The count lives in RAM (0x7000), and count n is
 * also written to one of 1,024 pages from 1 MiB (page n mod 1024), after
 * checking that the page still holds count n - 1024 (0 before that): a
 * page lost or stale across a migration prints "BAD" and the guest halts.
 * So the lines of a source and of its destination, put together, count
 * 1, 2, 3, ... with no gap and no repeat when the RAM, the registers and
 * the devices all moved.
 *
 * Built by test-support/build.rs:
 *   as --32 -I guests -o counter.o counter.S
 *   ld -m elf_i386 -Ttext=0xffff0000 --oformat binary -o counter.bin counter.o
 */
        .include "pmode.inc"

        .set DEBUGCON, 0x402
        .set COUNT, 0x7000
        .set PAGES, 0x100000
        .set DELAY, 2000

        .text
        .globl  _start
_start:
        enter_protected_mode start32
start32:
        load_flat_segments
next:
        movl    COUNT, %eax
        incl    %eax
        movl    %eax, COUNT
        /* EBX: the page of this count; EDX: what it must hold. */
        movl    %eax, %ebx
        andl    $1023, %ebx
        shll    $12, %ebx
        addl    $PAGES, %ebx
        movl    %eax, %edx
        subl    $1024, %edx
        cmpl    $1024, %eax
        ja      1f
        xorl    %edx, %edx
1:      cmpl    %edx, (%ebx)
        jne     bad
        movl    %eax, (%ebx)
        call    hex32
        movb    $'\n', %al
        movw    $DEBUGCON, %dx
        outb    %al, %dx
        movl    $DELAY, %ecx
2:      pause
        loop    2b
        jmp     next

bad:
        movl    $msg_bad, %esi
        movw    $DEBUGCON, %dx
3:      lodsb
        testb   %al, %al
        jz      4f
        outb    %al, %dx
        jmp     3b
4:      hlt
        jmp     4b

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

/* Prints EAX as eight hex digits (EAX kept, ECX used). */
hex32:
        movl    $4, %ecx
6:      roll    $8, %eax
        call    hex8
        loop    6b
        ret

msg_bad: .asciz "BAD\n"

        gdt_and_reset_vector
