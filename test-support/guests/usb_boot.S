# A boot sector for the usb-storage tests (vmm/tests/usb_storage.rs): SeaBIOS
# loads it from the USB disk (through its mass-storage driver, so through the
# xHCI's bulk transfers) to 0x7c00 and jumps to it with DL = the drive.
#
# It reads LBA 1-8 with INT 13h AH=42h and checks the pattern the test wrote
# there (byte i of sector n is n*13 + 1 + 7*i, mod 256), writes LBA 9 with
# AH=43h (byte i is 3*i ^ 0x5a, mod 256), and prints the result on the debug
# console (port 0x402): "USBBOOT ok" or "USBBOOT <what> error". Then, by the
# byte at offset 0x1f0 (patched by the test):
#   0: halts;
#   1: forever: reads 64 sectors, printing "r" (good) or "E" (failed),
#      then writes LBA 9 again with the same block, printing "w" or "F",
#      each after a 0x01 byte (the unplug tests: the image must end as
#      after the first write);
#   2: prints "T", reads 32 MiB in 64-sector reads, prints "DONE" (the
#      throughput measurement), halts.
    .code16
    .text
    .globl _start
_start:
    cli
    xorw %ax, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw $0x7c00, %sp
    sti
    movb %dl, drive
    movw $msg_start, %si
    call print

    movw $8, dap_count
    movw $0x8000, dap_buf
    movl $1, dap_lba
    movw $0x4200, %ax
    call disk
    movw $msg_read, %si
    jc fail

    movw $0x8000, %di
    movb $1, %cl
sector:
    movb %cl, %al
    movb $13, %bl
    mulb %bl
    incb %al
    movb %al, %bl
    movw $512, %dx
byte:
    cmpb (%di), %bl
    movw $msg_verify, %si
    jne fail
    addb $7, %bl
    incw %di
    decw %dx
    jnz byte
    incb %cl
    cmpb $9, %cl
    jne sector

    movw $0x9000, %di
    xorw %cx, %cx
fill:
    movb %cl, %al
    movb $3, %bl
    mulb %bl
    xorb $0x5a, %al
    movb %al, (%di)
    incw %di
    incw %cx
    cmpw $512, %cx
    jne fill
    movw $1, dap_count
    movw $0x9000, dap_buf
    movl $9, dap_lba
    movw $0x4300, %ax
    call disk
    movw $msg_write, %si
    jc fail
    movw $msg_ok, %si
    call print

    cmpb $1, mode
    je stream
    cmpb $2, mode
    je timed
halt:
    hlt
    jmp halt

fail:
    call print
    movw $msg_error, %si
    call print
    jmp halt

# Mode 1: read and rewrite forever. Each result is a token: a 0x01 byte,
# which SeaBIOS never prints, then the letter, so that the test tells the
# tokens from the firmware's messages between them.
stream:
    call read64
    movb $'r', %al
    jnc 1f
    movb $'E', %al
1:  call token
    movw $1, dap_count
    movw $0x9000, dap_buf
    movw $0, dap_seg
    movl $9, dap_lba
    movw $0x4300, %ax
    call disk
    movb $'w', %al
    jnc 7f
    movb $'F', %al
7:  call token
    jmp stream

token:
    movw $0x402, %dx
    xchgb %al, %ah
    movb $1, %al
    outb %al, %dx
    xchgb %al, %ah
    outb %al, %dx
    ret

# Mode 2: 512 reads of 64 sectors (16 MiB), timed by the host.
timed:
    movw $msg_t, %si
    call print
    movw $512, count
2:  call read64
    jnc 3f
    movb $'E', %al
    movw $0x402, %dx
    outb %al, %dx
3:  decw count
    jnz 2b
    movw $msg_done, %si
    call print
    jmp halt

# Reads 64 sectors to 0x1000:0 from the LBA after the last one read
# (16, 80, ... wrapping below 8000). CF set on error.
read64:
    movw $64, dap_count
    movw $0, dap_buf
    movw $0x1000, dap_seg
    movl next_lba, %eax
    addl $64, %eax
    cmpl $8000, %eax
    jb 4f
    movl $16, %eax
4:  movl %eax, next_lba
    movl %eax, dap_lba
    movw $0x4200, %ax
    jmp disk

# INT 13h function AX with the packet below.
disk:
    movb drive, %dl
    movw $dap, %si
    int $0x13
    ret

print:
    movw $0x402, %dx
5:  lodsb
    testb %al, %al
    jz 6f
    outb %al, %dx
    jmp 5b
6:  ret

msg_start:  .asciz "USBBOOT start\n"
msg_ok:     .asciz "USBBOOT ok\n"
msg_read:   .asciz "USBBOOT read"
msg_verify: .asciz "USBBOOT verify"
msg_write:  .asciz "USBBOOT write"
msg_error:  .asciz " error\n"
msg_t:      .asciz "T\n"
msg_done:   .asciz "DONE\n"

    .align 4
dap:        .byte 16, 0
dap_count:  .word 0
dap_buf:    .word 0
dap_seg:    .word 0
dap_lba:    .long 0, 0
next_lba:   .long 16
drive:      .byte 0
count:      .word 0

    .org 0x1f0
mode:       .byte 0
    .org 0x1fe
    .word 0xaa55
