//! The C library entry points a simulation answers: the crate's only
//! `unsafe` code.
//!
//! Each function has the C library's signature. On a seeded thread it
//! answers from [`super`]; on any other thread it calls the C library's own
//! definition, found once with `dlsym(RTLD_NEXT, …)` (the next definition
//! after this executable's), or, should that fail, makes the system call
//! itself.

use std::ffi::{CStr, c_int, c_long, c_uint, c_void};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::time::Duration;

use super::{Clock, fill_random, now};

type GetrandomFn = unsafe extern "C" fn(*mut c_void, usize, c_uint) -> isize;
type GetentropyFn = unsafe extern "C" fn(*mut c_void, usize) -> c_int;
type ClockGettimeFn = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> c_int;
type GettimeofdayFn = unsafe extern "C" fn(*mut libc::timeval, *mut c_void) -> c_int;
type TimeFn = unsafe extern "C" fn(*mut libc::time_t) -> libc::time_t;

/// The C library's definition of one entry point, looked up on first use.
struct Next {
    name: &'static CStr,
    /// The function's address; null until looked up, [`MISSING`] when the C
    /// library has none.
    address: AtomicPtr<c_void>,
}

/// Marks an entry point the C library does not define.
const MISSING: *mut c_void = usize::MAX as *mut c_void;

/// Threads currently inside `dlsym`: a lookup that needs an entry point
/// (the dynamic loader may ask for entropy or the time) must not look up
/// again, so it makes the system call instead.
static LOOKING_UP: AtomicUsize = AtomicUsize::new(0);

impl Next {
    const fn new(name: &'static CStr) -> Self {
        Self {
            name,
            address: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The C library's function, or `None` when it has none or the lookup
    /// is in progress.
    fn get(&self) -> Option<*mut c_void> {
        let mut address = self.address.load(Ordering::Acquire);
        if address.is_null() {
            if LOOKING_UP.fetch_add(1, Ordering::AcqRel) > 0 {
                LOOKING_UP.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            // SAFETY: `name` is a NUL-terminated C string; RTLD_NEXT asks
            // for the first definition after this object's, which is the C
            // library's. dlsym has no other precondition.
            let found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
            LOOKING_UP.fetch_sub(1, Ordering::AcqRel);
            address = if found.is_null() { MISSING } else { found };
            self.address.store(address, Ordering::Release);
        }
        (address != MISSING).then_some(address)
    }
}

/// Keeps the entry points in every executable that seeds a thread: the
/// linker takes an object from a library only when something refers to it.
pub(super) fn keep_linked() {
    let entries: [*const (); 5] = [
        getrandom as *const (),
        getentropy as *const (),
        clock_gettime as *const (),
        gettimeofday as *const (),
        time as *const (),
    ];
    std::hint::black_box(entries);
}

static GETRANDOM: Next = Next::new(c"getrandom");
static GETENTROPY: Next = Next::new(c"getentropy");
static CLOCK_GETTIME: Next = Next::new(c"clock_gettime");
static GETTIMEOFDAY: Next = Next::new(c"gettimeofday");
static TIME: Next = Next::new(c"time");

fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot,
    // valid for writes for the thread's lifetime.
    unsafe { *libc::__errno_location() = code };
}

/// Writes a simulated reading into a `timespec`.
// `c_long` is 32 bits wide on 32-bit targets, where the conversion can fail.
#[allow(clippy::unnecessary_fallible_conversions)]
fn timespec(at: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: c_long::try_from(at.subsec_nanos()).unwrap_or(0),
    }
}

/// Which simulated clock a `clockid_t` reads; `None` for CPU-time clocks,
/// which measure the process, not the world.
fn simulated(clock: libc::clockid_t) -> Option<Clock> {
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_TAI => {
            Some(Clock::Realtime)
        }
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME => Some(Clock::Monotonic),
        _ => None,
    }
}

/// `getrandom(2)`: the thread's seeded stream in a simulation.
///
/// # Safety
/// The C contract: `buf` is valid for writes of `len` bytes.
#[unsafe(no_mangle)]
pub(super) unsafe extern "C" fn getrandom(buf: *mut c_void, len: usize, flags: c_uint) -> isize {
    if len == 0 {
        if super::is_seeded() {
            return 0;
        }
    } else if !buf.is_null() {
        // SAFETY: the caller guarantees `buf` is valid for `len` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        if fill_random(bytes) {
            return isize::try_from(len).unwrap_or(isize::MAX);
        }
    }
    match GETRANDOM.get() {
        Some(next) => {
            // SAFETY: `next` is the C library's `getrandom`, whose signature
            // this is; the arguments are the caller's, unchanged.
            unsafe { std::mem::transmute::<*mut c_void, GetrandomFn>(next)(buf, len, flags) }
        }
        // SAFETY: the system call has the same contract as the function.
        None => unsafe { libc::syscall(libc::SYS_getrandom, buf, len, flags) as isize },
    }
}

/// `getentropy(3)`: at most 256 bytes from the seeded stream.
///
/// # Safety
/// The C contract: `buf` is valid for writes of `len` bytes.
#[unsafe(no_mangle)]
pub(super) unsafe extern "C" fn getentropy(buf: *mut c_void, len: usize) -> c_int {
    if super::is_seeded() {
        if len > 256 {
            set_errno(libc::EIO);
            return -1;
        }
        if len > 0 && !buf.is_null() {
            // SAFETY: the caller guarantees `buf` is valid for `len` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
            fill_random(bytes);
        }
        return 0;
    }
    match GETENTROPY.get() {
        // SAFETY: `next` is the C library's `getentropy`; arguments unchanged.
        Some(next) => unsafe { std::mem::transmute::<*mut c_void, GetentropyFn>(next)(buf, len) },
        None => {
            // SAFETY: as `getrandom`, which has the same contract for
            // `len <= 256`.
            let read = unsafe { getrandom(buf, len.min(256), 0) };
            if read < 0 { -1 } else { 0 }
        }
    }
}

/// `clock_gettime(2)`: simulated realtime and monotonic clocks.
///
/// # Safety
/// The C contract: `tp` is valid for writing one `timespec`.
#[unsafe(no_mangle)]
pub(super) unsafe extern "C" fn clock_gettime(
    clock: libc::clockid_t,
    tp: *mut libc::timespec,
) -> c_int {
    if let Some(at) = simulated(clock).and_then(now) {
        if tp.is_null() {
            set_errno(libc::EFAULT);
            return -1;
        }
        // SAFETY: the caller guarantees `tp` is valid for writes.
        unsafe { tp.write(timespec(at)) };
        return 0;
    }
    match CLOCK_GETTIME.get() {
        // SAFETY: `next` is the C library's `clock_gettime`; arguments unchanged.
        Some(next) => unsafe {
            std::mem::transmute::<*mut c_void, ClockGettimeFn>(next)(clock, tp)
        },
        // SAFETY: the system call has the same contract as the function.
        None => unsafe { libc::syscall(libc::SYS_clock_gettime, clock, tp) as c_int },
    }
}

/// `gettimeofday(2)`: the simulated realtime clock.
///
/// # Safety
/// The C contract: `tv` is null or valid for writing one `timeval`.
#[unsafe(no_mangle)]
pub(super) unsafe extern "C" fn gettimeofday(tv: *mut libc::timeval, tz: *mut c_void) -> c_int {
    if let Some(at) = now(Clock::Realtime) {
        if !tv.is_null() {
            let value = libc::timeval {
                tv_sec: libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_usec: libc::suseconds_t::from(at.subsec_micros()),
            };
            // SAFETY: the caller guarantees a non-null `tv` is valid for writes.
            unsafe { tv.write(value) };
        }
        return 0;
    }
    match GETTIMEOFDAY.get() {
        // SAFETY: `next` is the C library's `gettimeofday`; arguments unchanged.
        Some(next) => unsafe { std::mem::transmute::<*mut c_void, GettimeofdayFn>(next)(tv, tz) },
        // SAFETY: the system call has the same contract as the function.
        None => unsafe { libc::syscall(libc::SYS_gettimeofday, tv, tz) as c_int },
    }
}

/// `time(2)`: the simulated realtime clock in whole seconds.
///
/// # Safety
/// The C contract: `out` is null or valid for writing one `time_t`.
#[unsafe(no_mangle)]
pub(super) unsafe extern "C" fn time(out: *mut libc::time_t) -> libc::time_t {
    let seconds = match now(Clock::Realtime) {
        Some(at) => libc::time_t::try_from(at.as_secs()).unwrap_or(libc::time_t::MAX),
        None => match TIME.get() {
            // SAFETY: `next` is the C library's `time`; the argument unchanged.
            Some(next) => return unsafe { std::mem::transmute::<*mut c_void, TimeFn>(next)(out) },
            None => {
                let mut tp = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                // SAFETY: `tp` is a local `timespec`, valid for writes.
                if unsafe { clock_gettime(libc::CLOCK_REALTIME, &raw mut tp) } != 0 {
                    return -1;
                }
                tp.tv_sec
            }
        },
    };
    if !out.is_null() {
        // SAFETY: the caller guarantees a non-null `out` is valid for writes.
        unsafe { out.write(seconds) };
    }
    seconds
}
