use super::*;

const US: u64 = 1_000;

fn rd(t: &Sp804Regs, offset: u64) -> u32 {
    t.read(offset, 4) as u32
}

fn wr(t: &Sp804Regs, offset: u64, value: u32) {
    t.write(offset, 4, u64::from(value));
}

/// Timer 0 loaded with `load` and started with `control | ENABLE | IE`.
fn started(load: u32, control: u32) -> Sp804Regs {
    let t = Sp804Regs::new();
    wr(&t, LOAD, load);
    wr(&t, CONTROL, control | CTRL_ENABLE | CTRL_IE);
    t
}

#[test]
fn is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Sp804Regs>();
}

#[test]
fn reset_values() {
    let t = Sp804Regs::new();
    for base in [0, TIMER_STRIDE] {
        assert_eq!(rd(&t, base + LOAD), 0);
        assert_eq!(rd(&t, base + VALUE), 0xffff_ffff);
        assert_eq!(rd(&t, base + CONTROL), CTRL_IE);
        assert_eq!(rd(&t, base + RIS), 0);
        assert_eq!(rd(&t, base + MIS), 0);
        assert_eq!(rd(&t, base + BGLOAD), 0);
    }
    let ids: Vec<u32> = (0..8).map(|i| rd(&t, PERIPH_ID0 + 4 * i)).collect();
    assert_eq!(ids, [0x04, 0x18, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]);
    assert_eq!(rd(&t, ITCR), 0);
    assert_eq!(t.freq(0), Some(DEFAULT_FREQ_HZ));
    assert!(!t.irq_level());
}

#[test]
fn reset_stops_and_clears() {
    let t = started(10, CTRL_PERIODIC | CTRL_32BIT);
    t.advance(10 * US);
    assert!(t.irq_level());
    t.reset();
    assert!(!t.irq_level());
    assert_eq!(rd(&t, CONTROL), CTRL_IE);
    t.advance(1_000 * US);
    assert_eq!(rd(&t, VALUE), 0xffff_ffff, "not running");
}

#[test]
fn periodic_expires_and_reloads() {
    let t = started(100, CTRL_PERIODIC | CTRL_32BIT);
    assert_eq!(rd(&t, VALUE), 100);
    t.advance(50 * US);
    assert_eq!(rd(&t, VALUE), 50);
    assert!(!t.irq_level());
    t.advance(50 * US);
    assert_eq!(rd(&t, VALUE), 100, "reloaded in the expiring tick");
    assert_eq!(rd(&t, RIS), 1);
    assert_eq!(rd(&t, MIS), 1);
    assert!(t.irq_level() && t.timer_irq_level(0) && !t.timer_irq_level(1));
    wr(&t, INTCLR, 0);
    assert!(!t.irq_level());
    t.advance(99 * US);
    assert!(!t.irq_level());
    t.advance(US);
    assert!(t.irq_level(), "second period");
    wr(&t, INTCLR, 0);
    t.advance(1_000_000 * US + 30 * US); // many whole periods at once
    assert!(t.irq_level());
    assert_eq!(rd(&t, VALUE), 70);
}

#[test]
fn sub_tick_steps_accumulate_exactly() {
    let t = started(3, CTRL_PERIODIC | CTRL_32BIT);
    for _ in 0..4 {
        t.advance(600); // 0.6 of a 1 MHz tick
    }
    assert_eq!(rd(&t, VALUE), 1, "2400 ns: two whole ticks");
    assert!(!t.irq_level());
    t.advance(600);
    assert!(t.irq_level(), "3000 ns: expired");
    assert_eq!(rd(&t, VALUE), 3);
}

#[test]
fn one_shot_stops_at_zero() {
    let t = started(10, CTRL_ONESHOT | CTRL_32BIT);
    t.advance(9 * US);
    assert!(!t.irq_level());
    t.advance(US);
    assert!(t.irq_level());
    assert_eq!(rd(&t, VALUE), 0);
    wr(&t, INTCLR, 0);
    t.advance(1_000 * US);
    assert_eq!(rd(&t, VALUE), 0);
    assert!(!t.irq_level(), "no second expiry");
    assert_eq!(
        rd(&t, CONTROL) & CTRL_ENABLE,
        CTRL_ENABLE,
        "enable stays set"
    );
    wr(&t, LOAD, 5); // reprogramming restarts it
    t.advance(5 * US);
    assert!(t.irq_level());
}

#[test]
fn free_running_wraps_at_the_counter_width() {
    let t = started(7, 0); // 16-bit free-running: Load is not used
    assert_eq!(rd(&t, VALUE), 0xffff);
    t.advance(0xffff * US);
    assert!(t.irq_level());
    assert_eq!(rd(&t, VALUE), 0xffff);
    let t = started(7, CTRL_32BIT);
    assert_eq!(rd(&t, VALUE), 0xffff_ffff);
}

#[test]
fn sixteen_bit_mode_narrows_the_load_value() {
    let t = started(0x1_0010, CTRL_PERIODIC);
    assert_eq!(rd(&t, LOAD), 0x1_0010, "the register keeps 32 bits");
    assert_eq!(rd(&t, VALUE), 0x10);
    t.advance(0x10 * US);
    assert!(t.irq_level());
}

#[test]
fn prescaler_divides_the_clock() {
    let t = started(10, CTRL_PERIODIC | CTRL_32BIT | CTRL_DIV16);
    t.advance(159 * US);
    assert!(!t.irq_level());
    t.advance(US);
    assert!(t.irq_level());
    let t = started(1, CTRL_PERIODIC | CTRL_32BIT | CTRL_DIV256);
    t.advance(255 * US);
    assert!(!t.irq_level());
    t.advance(US);
    assert!(t.irq_level());
}

#[test]
fn interrupt_enable_masks_only_the_output() {
    let t = Sp804Regs::new();
    wr(&t, LOAD, 1);
    wr(&t, CONTROL, CTRL_ENABLE | CTRL_PERIODIC | CTRL_32BIT);
    t.advance(US);
    assert_eq!(rd(&t, RIS), 1);
    assert_eq!(rd(&t, MIS), 0);
    assert!(!t.irq_level());
    wr(&t, CONTROL, CTRL_PERIODIC | CTRL_32BIT | CTRL_IE);
    assert!(t.irq_level(), "unmasking shows the pending interrupt");
}

#[test]
fn background_load_waits_for_the_next_reload() {
    let t = started(100, CTRL_PERIODIC | CTRL_32BIT);
    t.advance(30 * US);
    wr(&t, BGLOAD, 10);
    assert_eq!(rd(&t, VALUE), 70);
    assert_eq!(rd(&t, LOAD), 10);
    t.advance(70 * US);
    assert_eq!(rd(&t, VALUE), 10);
}

#[test]
fn zero_load_fires_at_once_and_stops() {
    let t = started(5, CTRL_PERIODIC | CTRL_32BIT);
    wr(&t, LOAD, 0);
    assert!(t.irq_level());
    wr(&t, INTCLR, 0);
    t.advance(100 * US);
    assert!(!t.irq_level());
}

#[test]
fn disabled_timer_freezes_and_value_is_read_only() {
    let t = started(100, CTRL_PERIODIC | CTRL_32BIT);
    t.advance(40 * US);
    wr(&t, CONTROL, CTRL_PERIODIC | CTRL_32BIT | CTRL_IE);
    t.advance(500 * US);
    assert_eq!(rd(&t, VALUE), 60);
    wr(&t, VALUE, 5);
    assert_eq!(rd(&t, VALUE), 60);
}

#[test]
fn timers_are_independent_and_combined() {
    let t = Sp804Regs::new();
    t.set_freq(1, 2_000_000);
    wr(&t, TIMER_STRIDE + LOAD, 4);
    wr(
        &t,
        TIMER_STRIDE + CONTROL,
        CTRL_ENABLE | CTRL_IE | CTRL_PERIODIC | CTRL_32BIT,
    );
    t.advance(2 * US);
    assert!(t.timer_irq_level(1) && !t.timer_irq_level(0));
    assert!(t.irq_level());
    assert_eq!(rd(&t, VALUE), 0xffff_ffff, "timer 0 untouched");
    assert!(!t.timer_irq_level(2));
    wr(&t, TIMER_STRIDE + INTCLR, 1);
    assert!(!t.irq_level());
}

#[test]
fn narrow_accesses() {
    let t = Sp804Regs::new();
    assert_eq!(t.read(PERIPH_ID0, 1), 0x04);
    assert_eq!(t.read(CONTROL, 1), u64::from(CTRL_IE));
    t.write(LOAD, 2, 0x1234);
    assert_eq!(rd(&t, LOAD), 0x1234);
    t.write(LOAD, 8, 0x0000_0007_0000_0009); // Load, then Value (ignored)
    assert_eq!(rd(&t, LOAD), 9);
}
