use super::*;
use std::sync::Arc;

fn rd(uart: &Pl011Regs, offset: u64) -> u32 {
    uart.read(offset, 4) as u32
}

fn wr(uart: &Pl011Regs, offset: u64, value: u32) {
    uart.write(offset, 4, u64::from(value));
}

/// A UART whose output is collected.
fn with_sink() -> (Pl011Regs, Arc<Mutex<Vec<u8>>>) {
    let uart = Pl011Regs::new();
    let out = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&out);
    uart.set_backend(Box::new(move |b| sink.lock().unwrap().push(b)));
    (uart, out)
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Pl011Regs>();
}

#[test]
fn reset_values() {
    let uart = Pl011Regs::new();
    assert_eq!(rd(&uart, FR), FR_TXFE | FR_RXFE);
    assert_eq!(rd(&uart, CR), 0x300);
    assert_eq!(rd(&uart, IFLS), 0x12);
    for reg in [RSR, ILPR, IBRD, FBRD, LCR_H, IMSC, RIS, MIS, DMACR] {
        assert_eq!(rd(&uart, reg), 0, "register {reg:#x}");
    }
    let ids: Vec<u32> = (0..8).map(|i| rd(&uart, PERIPH_ID0 + 4 * i)).collect();
    assert_eq!(ids, [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    assert!(!uart.irq_level());
}

#[test]
fn reset_restores_everything_but_the_backend() {
    let (uart, out) = with_sink();
    wr(&uart, LCR_H, LCR_FEN);
    wr(&uart, IMSC, INT_ALL);
    uart.receive(b'x');
    wr(&uart, DR, u32::from(b'a'));
    uart.reset();
    assert_eq!(rd(&uart, LCR_H), 0);
    assert_eq!(rd(&uart, FR), FR_TXFE | FR_RXFE);
    assert_eq!(rd(&uart, RIS), 0);
    wr(&uart, DR, u32::from(b'b'));
    assert_eq!(*out.lock().unwrap(), b"ab");
}

#[test]
fn read_only_registers_ignore_writes() {
    let uart = Pl011Regs::new();
    for reg in [FR, RIS, MIS, PERIPH_ID0, 0xffc] {
        let before = rd(&uart, reg);
        wr(&uart, reg, 0xffff_ffff);
        assert_eq!(rd(&uart, reg), before, "register {reg:#x}");
    }
    assert_eq!(rd(&uart, ICR), 0, "ICR is write-only");
    assert_eq!(rd(&uart, 0x800), 0, "unassigned offset");
}

#[test]
fn divisors_are_masked() {
    let uart = Pl011Regs::new();
    wr(&uart, IBRD, 0x12_3456);
    wr(&uart, FBRD, 0xff);
    assert_eq!(rd(&uart, IBRD), 0x3456);
    assert_eq!(rd(&uart, FBRD), 0x3f);
}

#[test]
fn transmit_reaches_backend_and_raises_tx() {
    let (uart, out) = with_sink();
    wr(&uart, CR, CR_UARTEN | CR_TXE | CR_RXE);
    wr(&uart, DR, 0x141); // only the low byte is data
    assert_eq!(*out.lock().unwrap(), b"A");
    assert_eq!(rd(&uart, RIS), INT_TX);
    assert_eq!(rd(&uart, MIS), 0);
    assert!(!uart.irq_level(), "masked");
    wr(&uart, IMSC, INT_TX);
    assert_eq!(rd(&uart, MIS), INT_TX);
    assert!(uart.irq_level());
    wr(&uart, ICR, INT_RX); // clearing another bit changes nothing
    assert!(uart.irq_level());
    wr(&uart, ICR, INT_TX);
    assert_eq!(rd(&uart, RIS), 0);
    assert!(!uart.irq_level());
    assert_eq!(
        rd(&uart, FR) & (FR_TXFE | FR_TXFF),
        FR_TXFE,
        "TX is instantaneous"
    );
}

#[test]
fn disabled_uart_still_transmits_like_qemu() {
    let (uart, out) = with_sink();
    wr(&uart, CR, 0);
    wr(&uart, DR, u32::from(b'z'));
    assert_eq!(*out.lock().unwrap(), b"z");
}

#[test]
fn without_fifo_one_byte_fills_the_holding_register() {
    let uart = Pl011Regs::new();
    assert_eq!(uart.can_receive(), 1);
    uart.receive(b'q');
    assert_eq!(rd(&uart, FR) & (FR_RXFE | FR_RXFF), FR_RXFF);
    assert_eq!(uart.can_receive(), 0);
    assert_eq!(rd(&uart, RIS), INT_RX);
    assert_eq!(rd(&uart, DR), u32::from(b'q'));
    assert_eq!(rd(&uart, FR) & (FR_RXFE | FR_RXFF), FR_RXFE);
    assert_eq!(rd(&uart, RIS), 0, "RX clears when the FIFO drains");
}

#[test]
fn fifo_fills_to_sixteen_then_drains_in_order() {
    let uart = Pl011Regs::new();
    wr(&uart, LCR_H, LCR_FEN);
    wr(&uart, IMSC, INT_RX);
    for i in 0..FIFO_DEPTH as u8 {
        assert_eq!(rd(&uart, FR) & FR_RXFF, 0, "not full before byte {i}");
        uart.receive(b'a' + i);
        assert!(uart.irq_level());
    }
    assert_eq!(rd(&uart, FR) & (FR_RXFE | FR_RXFF), FR_RXFF);
    for i in 0..FIFO_DEPTH as u8 {
        assert_eq!(rd(&uart, DR), u32::from(b'a' + i));
        assert_eq!(rd(&uart, FR) & FR_RXFF, 0);
    }
    assert_eq!(rd(&uart, FR) & FR_RXFE, FR_RXFE);
    assert!(!uart.irq_level());
}

#[test]
fn overrun_sets_oe_until_error_clear() {
    let uart = Pl011Regs::new();
    wr(&uart, IMSC, INT_OE);
    uart.receive(b'1');
    uart.receive(b'2'); // holding register full: overrun
    assert_eq!(rd(&uart, RIS) & INT_OE, INT_OE);
    assert!(uart.irq_level());
    assert_eq!(rd(&uart, RSR), RSR_OE);
    assert_eq!(rd(&uart, DR), u32::from(b'1'), "FIFO contents stay valid");
    assert_eq!(rd(&uart, RSR), RSR_OE, "sticky across data reads");
    uart.receive(b'3');
    assert_eq!(rd(&uart, DR), DR_OE | u32::from(b'3'));
    wr(&uart, RSR, 0); // ECR
    assert_eq!(rd(&uart, RSR), 0);
    wr(&uart, ICR, INT_OE);
    assert!(!uart.irq_level());
}

#[test]
fn toggling_fen_empties_the_fifo() {
    let uart = Pl011Regs::new();
    wr(&uart, LCR_H, LCR_FEN);
    uart.receive(1);
    uart.receive(2);
    wr(&uart, LCR_H, 0);
    assert_eq!(rd(&uart, FR) & FR_RXFE, FR_RXFE);
    assert_eq!(uart.can_receive(), 1);
}

#[test]
fn loopback_feeds_transmit_into_receive() {
    let (uart, out) = with_sink();
    wr(&uart, CR, CR_UARTEN | CR_TXE | CR_RXE | CR_LBE);
    uart.receive(b'x'); // the line is disconnected
    assert_eq!(rd(&uart, FR) & FR_RXFE, FR_RXFE);
    wr(&uart, DR, u32::from(b'y'));
    assert_eq!(*out.lock().unwrap(), b"y");
    assert_eq!(rd(&uart, DR), u32::from(b'y'));
    wr(&uart, LCR_H, LCR_BRK);
    assert_eq!(rd(&uart, DR), DR_BE);
    wr(&uart, CR, CR_LBE | CR_RTS | CR_DTR);
    assert_eq!(rd(&uart, FR) & (FR_CTS | FR_DSR), FR_CTS | FR_DSR);
    assert_eq!(rd(&uart, RIS) & (INT_CTS | INT_DSR), INT_CTS | INT_DSR);
}

#[test]
fn break_on_the_line_enters_the_fifo() {
    let uart = Pl011Regs::new();
    uart.receive_break();
    assert_eq!(rd(&uart, DR), DR_BE);
    assert_eq!(rd(&uart, RSR), DR_BE >> 8);
}

#[test]
fn narrow_accesses() {
    let (uart, out) = with_sink();
    assert_eq!(uart.read(PERIPH_ID0, 1), 0x11);
    assert_eq!(uart.read(CR, 2), 0x300);
    // QEMU 7.2 sends a narrow access to the register at `offset >> 2`,
    // unshifted: the byte at CR + 1 reads CR's low byte.
    assert_eq!(uart.read(CR + 1, 1), 0x00, "register's low byte, as QEMU");
    assert_eq!(uart.read(PERIPH_ID0 + 3, 1), 0x11, "PeriphID0, as QEMU");
    uart.write(DR, 1, u64::from(b'k'));
    assert_eq!(*out.lock().unwrap(), b"k");
    uart.write(CR + 1, 1, 0x03);
    assert_eq!(
        rd(&uart, CR),
        0x03,
        "the narrow value, in the whole register"
    );
    uart.write(CR + 2, 2, 0x301);
    assert_eq!(rd(&uart, CR), 0x301);
    assert_eq!(uart.read(CR, 3), 0, "invalid size");
}

#[test]
fn backend_may_reenter_the_uart() {
    let uart = Arc::new(Pl011Regs::new());
    let echo = Arc::downgrade(&uart);
    uart.set_backend(Box::new(move |b| {
        if let Some(uart) = echo.upgrade() {
            uart.receive(b);
        }
    }));
    wr(&uart, DR, u32::from(b'e'));
    assert_eq!(rd(&uart, DR), u32::from(b'e'));
    uart.clear_backend();
}

#[test]
fn concurrent_writers_and_readers() {
    let (uart, out) = with_sink();
    let uart = Arc::new(uart);
    wr(&uart, LCR_H, LCR_FEN);
    let threads: Vec<_> = (0..2u8)
        .map(|t| {
            let uart = Arc::clone(&uart);
            std::thread::spawn(move || {
                for i in 0..4 {
                    wr(&uart, DR, u32::from(b'a' + 4 * t + i));
                    uart.receive(i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut sent = out.lock().unwrap().clone();
    sent.sort_unstable();
    assert_eq!(sent, b"abcdefgh");
    let received: Vec<u32> = (0..8).map(|_| rd(&uart, DR)).collect();
    assert_eq!(received.iter().filter(|&&b| b == 3).count(), 2);
    assert_eq!(rd(&uart, FR) & FR_RXFE, FR_RXFE);
}
