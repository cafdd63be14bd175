"""A pool of sleeping worker threads that native code splits large loops across.

Compiled programs run on the calling thread.  A loop worth splitting (a large matrix
product) calls ``irgrad_parallel(task, context, wake)``: the pool runs ``task(context, i, n)``
for every chunk ``i`` of ``n`` (four per thread), the calling thread and the workers
claiming chunks until none is left, and returns when every chunk has run.  With one
thread (:func:`set_threads`) the task runs once, whole (``n = 1``), on the caller; so
does a task posted with ``wake = 0`` while every worker sleeps: waking one costs more
than such a task gains (W1's 64x784x128 product ran 1.25 times as long on 2 threads,
waking the worker at every step, as on one).

Workers *sleep* between tasks (``pthread_cond_wait``), after checking for about 0.4 ms
whether another task arrives (:data:`_SPINS`), so they are awake through a training
step's stream of tasks and asleep soon after it.  On these shared 2-vCPU machines a pool
that spins for long (OpenMP's default, OpenBLAS's: milliseconds) takes the core another
process needs, and one whose caller waits for every worker stalls whenever a worker is
descheduled; here the caller claims chunks like the workers, so a worker that is asleep,
waking up or descheduled costs nothing but its share of the work.

The pool is LLVM IR like every kernel (there is no C compiler at run time): one module,
compiled once per process (and kept in the disk cache), calling the C library's
pthread functions.  Mutexes and condition variables are made with ``pthread_*_init`` in
storage larger than any platform's types.  A task runs on the calling thread alone
when the pool has no workers, when another thread is using it (two Python threads
running compiled code at once), or in a child process made by ``fork``, where the
workers do not exist; so a compiled program never waits for a thread that is not
coming.
"""

from __future__ import annotations

import ctypes
import os
import threading

import llvmlite.binding as llvm
import llvmlite.ir as ir

from . import jit
from .loops import I64, const, entry_alloca

I8P = ir.IntType(8).as_pointer()
I32 = ir.IntType(32)
TASK = ir.FunctionType(ir.VoidType(), [I8P, I64, I64])  # task(context, part, parts)
PARALLEL = "irgrad_parallel"  # void irgrad_parallel(task*, i8* context, i64 wake)
PARALLEL_TYPE = ir.FunctionType(ir.VoidType(), [TASK.as_pointer(), I8P, I64])
WAKE = "irgrad_pool_wake"  # void irgrad_pool_wake(void)

_SYNC_BYTES = 256  # storage for a pthread mutex or condition variable (glibc: 40/48, macOS: 64/48)
_MODULE = "irgrad_pool"
# Checks of a task's arrival (or end) before sleeping: about 0.4 ms with x86's pause.
# Measured interleaved on 2 threads against 1000 checks (20 us): the LSTM step (W4) ran
# in 0.82x the time with 5000 checks and 0.78x with 20000, the CNN step (W3) in 0.99x
# and 0.77x, W5 in 1.0x and 0.90x; W1's inference step was unchanged.  (A wake-up from
# sleep took about 20 us here.)
_SPINS = 20000
_LOW32 = (1 << 32) - 1
# Chunks a task is cut into per thread: a thread that comes late (a worker waking from
# sleep) leaves its share to the others instead of making them wait for it.
CHUNKS_PER_THREAD = 4
_LOCK = threading.Lock()
_STATE: dict = {"threads": None, "started": 0, "spins": _SPINS, "pid": None}


def default_threads() -> int:
    """Threads irgrad uses unless told otherwise: ``OMP_NUM_THREADS`` when set (as
    PyTorch reads it), else the cores this process may run on."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads() -> int:
    """The threads native code may use (``irgrad.get_num_threads()``)."""
    if _STATE["threads"] is None:
        _STATE["threads"] = default_threads()
    return _STATE["threads"]


def _in_child() -> bool:
    """Whether this is a child forked after the workers started: they do not exist here,
    and the pool's mutex may have been copied locked (native code runs tasks alone)."""
    return _STATE["started"] > 0 and _STATE["pid"] != os.getpid()


def set_threads(n: int) -> None:
    """Use ``n`` threads (``irgrad.set_num_threads``): workers are started when first
    needed and kept; fewer threads leave the extra workers asleep."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _STATE["threads"] = n
    if _STATE["started"] and not _in_child():
        _functions()["use"](n, _STATE["spins"])


def ensure_started() -> None:
    """Make ``irgrad_parallel`` linkable, with workers for :func:`threads` threads.
    Called by a program before its module is compiled (its code refers to the symbol)."""
    functions = _functions()
    if _in_child():
        return
    wanted = threads() - 1
    with _LOCK:
        if wanted > _STATE["started"]:
            failed = functions["start"](wanted - _STATE["started"])
            _STATE["started"] = wanted - failed
            _STATE["pid"] = os.getpid()
        functions["use"](threads(), _STATE["spins"])


def _provide(name: str) -> None:
    """Start the pool for a module being loaded that calls it (see ``jit.provide_symbols_with``)."""
    if name in (PARALLEL, WAKE):
        ensure_started()


jit.provide_symbols_with(_provide)


def _functions() -> dict:
    """The pool module's entry points as ctypes functions (compiled once per process)."""

    def build() -> dict:
        functions = jit.compile_functions(
            _module,  # made only when the disk cache does not hold it
            {
                "irgrad_pool_start": ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64),
                "irgrad_pool_use": ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64),
                PARALLEL: ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64),
                WAKE: ctypes.CFUNCTYPE(None),
            },
            source=_MODULE,
            light=True,  # no loop to vectorize: a quarter of O2's time
        )
        for symbol in (PARALLEL, WAKE):
            llvm.add_symbol(symbol, ctypes.cast(functions[symbol], ctypes.c_void_p).value)
        return {"start": functions["irgrad_pool_start"], "use": functions["irgrad_pool_use"]}

    return jit.kernel(("pool",), build)


# --- the module -----------------------------------------------------------------------------------


class _Pool:
    """The pool's globals and the C functions it calls, in one module."""

    def __init__(self, module: ir.Module) -> None:
        self.module = module
        sync = ir.ArrayType(I64, _SYNC_BYTES // 8)
        self.mutex = self._global("mutex", sync)
        self.work = self._global("work", sync)  # signalled when a task is posted
        self.done = self._global("done", sync)  # signalled when the last worker finishes
        self.task = self._global("task", TASK.as_pointer())
        self.context = self._global("context", I8P)
        self.chunks = self._global("chunks", I64)  # of the posted task
        self.claim = self._global("claim", I64)  # its generation << 32 | its next unclaimed chunk
        self.finished = self._global("finished", I64)  # its chunks run
        self.generation = self._global("generation", I64)  # tasks posted so far
        self.workers = self._global("workers", I64)  # workers started
        self.asleep = self._global("asleep", I64)  # workers waiting on the condition variable
        self.spins = self._global("spins", I64, _SPINS)  # checks before sleeping (see spin_until)
        self.use = self._global("use", I64)  # threads to use, at most workers + 1
        self.busy = self._global("busy", I32)  # 1 while a thread's task holds the pool
        self.pid = self._global("pid", I32)  # the process that started the workers
        c = self._c
        self.lock = c("pthread_mutex_lock", I32, [I8P])
        self.unlock = c("pthread_mutex_unlock", I32, [I8P])
        self.wait = c("pthread_cond_wait", I32, [I8P, I8P])
        self.broadcast = c("pthread_cond_broadcast", I32, [I8P])
        self.signal = c("pthread_cond_signal", I32, [I8P])
        self.mutex_init = c("pthread_mutex_init", I32, [I8P, I8P])
        self.cond_init = c("pthread_cond_init", I32, [I8P, I8P])
        start_routine = ir.FunctionType(I8P, [I8P]).as_pointer()
        self.create = c("pthread_create", I32, [I64.as_pointer(), I8P, start_routine, I8P])
        self.detach = c("pthread_detach", I32, [I64])
        self.getpid = c("getpid", I32, [])
        # x86's spin-wait hint (it lets the sibling hyperthread run); elsewhere a plain loop
        x86 = llvm.get_process_triple().startswith(("x86_64", "i686", "i386"))
        self.pause = c("llvm.x86.sse2.pause", ir.VoidType(), []) if x86 else None

    def _global(self, name: str, type_: ir.Type, value=None) -> ir.GlobalVariable:
        variable = ir.GlobalVariable(self.module, type_, f"irgrad_pool.{name}")
        variable.linkage = "internal"
        variable.initializer = ir.Constant(type_, value)
        variable.align = 64
        return variable

    def _c(self, name: str, returns: ir.Type, args: list) -> ir.Function:
        return ir.Function(self.module, ir.FunctionType(returns, args), name)

    def sync(self, b: ir.IRBuilder, variable: ir.GlobalVariable) -> ir.Value:
        return b.bitcast(variable, I8P)

    def atomic_load(self, b: ir.IRBuilder, variable: ir.GlobalVariable) -> ir.Value:
        return b.load_atomic(variable, "acquire", 8)

    def spin_until(self, b: ir.IRBuilder, condition) -> None:
        """Check ``condition()`` up to :data:`_SPINS` times before going on (to sleep):
        a task posted, or finished, within a wake-up's time is caught without one."""
        fn = b.function
        head, body, out = (fn.append_basic_block(n) for n in ("spin", "spin.next", "spin.out"))
        count = entry_alloca(b, I64)
        b.store(const(0), count)
        b.branch(head)
        b.position_at_end(head)
        spins = b.load_atomic(self.spins, "monotonic", 8)
        b.cbranch(b.or_(condition(), b.icmp_unsigned(">=", b.load(count), spins)), out, body)
        b.position_at_end(body)
        if self.pause is not None:
            b.call(self.pause, [])
        b.store(b.add(b.load(count), const(1)), count)
        b.branch(head)
        b.position_at_end(out)


def _module() -> ir.Module:
    module = jit.new_module(_MODULE)
    pool = _Pool(module)
    run_chunks = _define_chunks(pool)
    _define_start(pool, _define_worker(pool, run_chunks))
    _define_use(pool)
    _define_wake(pool)
    _define_parallel(pool, run_chunks)
    return module


def _define_chunks(pool: _Pool) -> ir.Function:
    """``run_chunks(generation, task, context, chunks)``: claim and run chunks of task
    ``generation`` until none is left (or a newer task replaced it).  A chunk is claimed by a compare-and-swap on
    ``claim`` (the task's generation and its next chunk), so every chunk runs once, and
    a thread that arrives late finds nothing left and never touches the task's context:
    the caller never waits for a worker that has not claimed anything."""
    signature = ir.FunctionType(ir.VoidType(), [I64, TASK.as_pointer(), I8P, I64])
    fn = ir.Function(pool.module, signature, "irgrad_pool.run_chunks")
    fn.linkage = "internal"
    # the task's fields come from the caller, who read them with the generation (under
    # the mutex, or as their poster): read here, a newer task's could pass for this one's
    generation, task, context, chunks = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    retry, check, run, out = (fn.append_basic_block(n) for n in ("retry", "check", "run", "out"))
    b.branch(retry)
    b.position_at_end(retry)
    claim = pool.atomic_load(b, pool.claim)
    current = b.icmp_unsigned("==", b.lshr(claim, const(32)), b.and_(generation, const(_LOW32)))
    b.cbranch(current, check, out)
    b.position_at_end(check)
    index = b.and_(claim, const(_LOW32))
    left = b.icmp_unsigned("<", index, chunks)
    take = fn.append_basic_block("take")
    b.cbranch(left, take, out)
    b.position_at_end(take)
    swapped = b.cmpxchg(pool.claim, claim, b.add(claim, const(1)), "acq_rel", "acquire")
    b.cbranch(b.extract_value(swapped, 1), run, retry)
    b.position_at_end(run)
    b.call(task, [context, index, chunks])
    finished = b.add(b.atomic_rmw("add", pool.finished, const(1), "acq_rel"), const(1))
    with b.if_then(b.icmp_unsigned("==", finished, chunks)):  # the caller may be asleep
        mutex = pool.sync(b, pool.mutex)
        b.call(pool.lock, [mutex])
        b.call(pool.signal, [pool.sync(b, pool.done)])
        b.call(pool.unlock, [mutex])
    b.branch(retry)
    b.position_at_end(out)
    b.ret_void()
    return fn


def _define_worker(pool: _Pool, run_chunks: ir.Function) -> ir.Function:
    """``worker()``: forever, wait for a task to be posted (spinning briefly, then
    asleep) and help run its chunks."""
    fn = ir.Function(pool.module, ir.FunctionType(I8P, [I8P]), "irgrad_pool.worker")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    seen = entry_alloca(b, I64)
    b.store(const(0), seen)
    mutex = pool.sync(b, pool.mutex)
    loop, wait, take = (fn.append_basic_block(n) for n in ("loop", "wait", "take"))
    b.branch(loop)
    b.position_at_end(loop)
    pool.spin_until(b, lambda: b.icmp_unsigned("!=", pool.atomic_load(b, pool.generation), b.load(seen)))
    b.call(pool.lock, [mutex])
    b.branch(wait)
    b.position_at_end(wait)
    posted = b.icmp_unsigned("!=", pool.atomic_load(b, pool.generation), b.load(seen))
    sleep = fn.append_basic_block("sleep")
    b.cbranch(posted, take, sleep)
    b.position_at_end(sleep)
    b.atomic_rmw("add", pool.asleep, const(1), "monotonic")
    b.call(pool.wait, [pool.sync(b, pool.work), mutex])
    b.atomic_rmw("sub", pool.asleep, const(1), "monotonic")
    b.call(pool.unlock, [mutex])
    b.branch(loop)  # woken (for a task, or by irgrad_pool_wake): spin again before sleeping
    b.position_at_end(take)
    generation = pool.atomic_load(b, pool.generation)
    b.store(generation, seen)
    task, context, chunks = b.load(pool.task), b.load(pool.context), b.load(pool.chunks)
    b.call(pool.unlock, [mutex])
    b.call(run_chunks, [generation, task, context, chunks])
    b.branch(loop)
    return fn


def _define_wake(pool: _Pool) -> None:
    """``irgrad_pool_wake()``: wake the sleeping workers without a task, so they are
    spinning when the tasks of a program that posts many arrive (it is called at the
    start of such a program's native call)."""
    fn = ir.Function(pool.module, ir.FunctionType(ir.VoidType(), []), WAKE)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sleeping = b.icmp_unsigned("!=", b.load_atomic(pool.asleep, "monotonic", 8), const(0))
    here = b.icmp_signed("==", b.call(pool.getpid, []), b.load_atomic(pool.pid, "monotonic", 4))
    with b.if_then(
        b.and_(b.and_(sleeping, here), b.icmp_signed(">", b.load_atomic(pool.use, "monotonic", 8), const(1)))
    ):
        mutex = pool.sync(b, pool.mutex)
        b.call(pool.lock, [mutex])
        b.call(pool.broadcast, [pool.sync(b, pool.work)])
        b.call(pool.unlock, [mutex])
    b.ret_void()


def _define_start(pool: _Pool, worker: ir.Function) -> None:
    """``i64 irgrad_pool_start(count)``: start ``count`` more workers (initialising the
    pool on the first call); returns how many could not be started."""
    fn = ir.Function(pool.module, ir.FunctionType(I64, [I64]), "irgrad_pool_start")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    with b.if_then(b.icmp_unsigned("==", b.load(pool.workers), const(0))):
        null = ir.Constant(I8P, None)
        b.call(pool.mutex_init, [pool.sync(b, pool.mutex), null])
        b.call(pool.cond_init, [pool.sync(b, pool.work), null])
        b.call(pool.cond_init, [pool.sync(b, pool.done), null])
        b.store_atomic(b.call(pool.getpid, []), pool.pid, "monotonic", 4)
    thread = entry_alloca(b, I64)
    failed = entry_alloca(b, I64)
    b.store(const(0), failed)
    count = fn.args[0]
    head, body, end = (fn.append_basic_block(n) for n in ("head", "body", "end"))
    k = entry_alloca(b, I64)
    b.store(const(0), k)
    b.branch(head)
    b.position_at_end(head)
    b.cbranch(b.icmp_signed("<", b.load(k), count), body, end)
    b.position_at_end(body)
    mutex = pool.sync(b, pool.mutex)
    b.call(pool.lock, [mutex])  # a new worker's index must not race a task being posted
    index = b.add(b.load(pool.workers), const(1))
    status = b.call(pool.create, [thread, ir.Constant(I8P, None), worker, ir.Constant(I8P, None)])
    created = b.icmp_signed("==", status, ir.Constant(I32, 0))
    with b.if_else(created) as (then, otherwise):
        with then:
            b.store(index, pool.workers)
            b.call(pool.detach, [b.load(thread)])
        with otherwise:
            b.store(b.add(b.load(failed), const(1)), failed)
    b.call(pool.unlock, [mutex])
    b.store(b.add(b.load(k), const(1)), k)
    b.branch(head)
    b.position_at_end(end)
    b.ret(b.load(failed))


def _define_use(pool: _Pool) -> None:
    """``irgrad_pool_use(threads, spins)``: split tasks among ``min(threads, workers + 1)``
    threads, which check ``spins`` times for a task before sleeping."""
    fn = ir.Function(pool.module, ir.FunctionType(ir.VoidType(), [I64, I64]), "irgrad_pool_use")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    mutex = pool.sync(b, pool.mutex)
    b.call(pool.lock, [mutex])
    b.store_atomic(fn.args[1], pool.spins, "monotonic", 8)
    most = b.add(b.load(pool.workers), const(1))
    wanted = fn.args[0]
    b.store_atomic(b.select(b.icmp_signed("<", wanted, most), wanted, most), pool.use, "monotonic", 8)
    b.call(pool.unlock, [mutex])
    b.ret_void()


def _define_parallel(pool: _Pool, run_chunks: ir.Function) -> None:
    """``irgrad_parallel(task, context)``: ``task(context, i, n)`` for every chunk ``i``
    of ``n`` (:data:`CHUNKS_PER_THREAD` per thread), the calling thread claiming chunks
    like the workers; returns when every chunk has run."""
    fn = ir.Function(pool.module, PARALLEL_TYPE, PARALLEL)
    task, context, wake = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    alone, shared = fn.append_basic_block("alone"), fn.append_basic_block("shared")
    threads = b.load_atomic(pool.use, "monotonic", 8)
    # a task too small to pay for waking a worker runs alone unless one is awake
    awake = b.icmp_unsigned("<", b.load_atomic(pool.asleep, "monotonic", 8), b.load(pool.workers))
    usable = b.and_(
        b.and_(b.icmp_signed(">", threads, const(1)), b.or_(b.icmp_unsigned("!=", wake, const(0)), awake)),
        b.icmp_signed("==", b.call(pool.getpid, []), b.load_atomic(pool.pid, "monotonic", 4)),
    )
    check_busy = fn.append_basic_block("check_busy")
    b.cbranch(usable, check_busy, alone)
    b.position_at_end(check_busy)
    claimed = b.cmpxchg(pool.busy, ir.Constant(I32, 0), ir.Constant(I32, 1), "acquire", "monotonic")
    b.cbranch(b.extract_value(claimed, 1), shared, alone)

    b.position_at_end(alone)
    b.call(task, [context, const(0), const(1)])
    b.ret_void()

    b.position_at_end(shared)
    chunks = b.mul(threads, const(CHUNKS_PER_THREAD))
    mutex = pool.sync(b, pool.mutex)
    b.call(pool.lock, [mutex])
    b.store(task, pool.task)
    b.store(context, pool.context)
    b.store(chunks, pool.chunks)
    b.store_atomic(const(0), pool.finished, "release", 8)
    generation = b.add(b.load(pool.generation), const(1))
    b.store_atomic(b.shl(b.and_(generation, const(_LOW32)), const(32)), pool.claim, "release", 8)
    b.store_atomic(generation, pool.generation, "release", 8)
    b.call(pool.broadcast, [pool.sync(b, pool.work)])
    b.call(pool.unlock, [mutex])
    b.call(run_chunks, [generation, task, context, chunks])

    def all_done():
        return b.icmp_unsigned("==", pool.atomic_load(b, pool.finished), chunks)

    pool.spin_until(b, all_done)
    b.call(pool.lock, [mutex])
    wait, sleep, finished = (fn.append_basic_block(n) for n in ("wait", "sleep", "finished"))
    b.branch(wait)
    b.position_at_end(wait)
    b.cbranch(all_done(), finished, sleep)
    b.position_at_end(sleep)
    b.call(pool.wait, [pool.sync(b, pool.done), mutex])
    b.branch(wait)
    b.position_at_end(finished)
    b.call(pool.unlock, [mutex])
    b.store_atomic(ir.Constant(I32, 0), pool.busy, "release", 4)
    b.ret_void()
