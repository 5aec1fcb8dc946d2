# gdb support for lthread: list every lthread of every scheduler, and
# backtrace or inspect any of them, whether its frames are in place in its
# stack region or saved in its image (docs/DEBUGGING.md, "gdb").
#
#   info lthreads                        every lthread of every scheduler
#   lthread bt ID|NAME|all [full]        backtrace of one lthread (or all)
#   lthread frame ID|NAME [N]            its frame N: where, args, locals
#   lthread apply ID|NAME [N] COMMAND    COMMAND run in its frame N
#
# Loaded by hand (`source .../lthread.py`) or automatically with the shared
# library (`make install` puts it where gdb's auto-load looks for
# liblthread.so's script). Needs the library's debug information (it is
# built with -g): the script reads the scheduler's own structures.
#
# How it finds everything. The library keeps a list of its schedulers
# (`all_scheds`, sched.c); each scheduler keeps every lthread in exactly
# one place of its own (running, ready, computing, timers, conds, joiners,
# fds, disk requests, region waiters, starved, channel pollers, mutex and
# channel waits, zombies), which the script visits as lthread_walk() does.
#
# How it unwinds a suspended lthread. The switch pushed the lthread's
# callee-saved registers and its resume address onto its stack (struct
# lthread__switch_frame, src/arch/switch.h) and left its sp in the control
# block. A Python frame unwinder claims the selected gdb thread's innermost
# frame and says its caller is the lthread's resume point, with those
# registers; gdb's own DWARF unwinding does the rest. Nothing is written to
# any register, so this works on a live process and on a core file alike.
# The frames of an lthread whose image is saved (another lthread owns its
# region now) belong at the addresses they were made at: the script writes
# the image into the region for the duration of the command and then puts
# the owner's bytes back. A live process allows that; a core file only
# when gdb opened it writable (`set write on` before `core-file`; the file
# is the same byte for byte afterwards).
import re
import time

import gdb
import gdb.unwinder

# ---- the library's structures ------------------------------------------------


def _lookup_static(name):
    sym = None
    try:
        sym = gdb.lookup_static_symbol(name)
    except (AttributeError, gdb.error):
        pass
    if sym is None:
        sym = gdb.lookup_global_symbol(name)
    if sym is None:
        try:
            sym = gdb.lookup_symbol(name)[0]
        except gdb.error:
            sym = None
    return sym


def _type(name):
    return gdb.lookup_type(name)


def _enum_name(value, enum, prefix):
    """'LTHREAD__WAIT_COND' -> 'cond'."""
    try:
        text = str(value.cast(_type(enum)))
    except gdb.error:
        return str(int(value))
    if text.startswith(prefix):
        text = text[len(prefix):]
    return text.lower()


def _queue(q):
    lt = q["head"]
    while int(lt):
        yield lt
        lt = lt["next"]


def _schedulers():
    sym = _lookup_static("all_scheds")
    if sym is None:
        raise gdb.GdbError(
            "lthread: no 'all_scheds' symbol: is the program linked with "
            "lthread, built with debug information (-g)?")
    s = sym.value()
    while int(s):
        yield s
        s = s["xs_next"]


def _lthreads_of(s):
    """Every lthread of scheduler s, each once."""
    seen = set()
    out = []

    def add(lt):
        if int(lt) and int(lt) not in seen:
            seen.add(int(lt))
            out.append(lt)

    add(s["host"]["current"])
    for q in ("ready", "computing"):
        for lt in _queue(s[q]):
            add(lt)
    for i in range(int(s["ntimers"])):
        add(s["timers"][i]["lt"])
    # The conds with waiters: a circular list through the scheduler's
    # link, each cond's link its first member.
    cond_t = _type("struct lthread_cond").pointer()
    head = s["busy_conds"]
    link = head["next"]
    while int(link) and int(link) != int(head.address):
        for lt in _queue(link.cast(cond_t)["waiters"]):
            add(lt)
        link = link["next"]
    for lt in _queue(s["joining"]):
        add(lt)
    fds = s["fds"]
    for fd in range(int(s["nfds"])):
        e = fds[fd]
        for q in ("readers", "writers"):
            for lt in _queue(e[q]):
                add(lt)
        n = e["pollers"]
        while int(n):
            add(n["set"]["lt"])
            n = n["next"]
    if int(s["disk"]):
        d = s["disk"].cast(_type("struct lthread__disk").pointer())
        for q in ("pending", "inflight"):
            for lt in _queue(d[q]):
                add(lt)
    for i in range(int(s["nregions"])):
        for lt in _queue(s["regions"][i]["waiters"]):
            add(lt)
    for q in ("starved", "pollers"):
        for lt in _queue(s[q]):
            add(lt)
    g = s["sync_waits"]
    while int(g):
        g = g.cast(_type("struct lthread__wgroup").pointer())
        add(g["lt"])
        g = g["snext"]
    for lt in _queue(s["zombies"]):
        add(lt)
    # An lthread waiting to join one of its own scheduler is on no list:
    # its joinee names it (src/lthread_int.h, lthread__join_waiter).
    i = 0
    while i < len(out):
        j = _join_waiter(out[i])
        if j is not None:
            add(j)
        i += 1
    return [lt for lt in out if _state(lt) != "dead"]


def _join_waiter(lt):
    """The lthread of lt's scheduler waiting in lthread_join() on lt."""
    j = lt["joiner"]
    if not int(j) or int(lt["flags"]) & _flag("XJOIN"):
        return None
    kind = _enum_name(j["wait"], "enum lthread__wait", "LTHREAD__WAIT_")
    if kind != "join" or int(j["wait_obj"]) != int(lt):
        return None
    return j


def _state(lt):
    """As lthread_walk() says it: ready, running, waiting, computing,
    exited (or dead: freed, about to be released)."""
    name = _enum_name(lt["state"], "enum lthread__state", "LTHREAD__")
    return "computing" if name == "compute" else name


def _flag(name):
    return {
        "PRIVATE": 0x2,
        "SAVED": 0x10,
        "XJOIN": 0x40,
    }[name]


def _wait(lt):
    if _state(lt) != "waiting":
        return ""
    kind = _enum_name(lt["wait"], "enum lthread__wait", "LTHREAD__WAIT_")
    if kind == "io":
        if int(lt["wait_obj"]):
            return "poll"
        rw = "read" if int(lt["io_events"]) & 1 else "write"
        return "fd %d %s" % (int(lt["io_fd"]), rw)
    if kind == "join":
        joined = lt["wait_obj"].cast(lt.type)
        return "join %d" % int(joined["id"])
    if kind == "xjoin":
        return "join-remote"
    if kind == "poll":
        return "sync"  # a channel its scheduler polls (chan.c), as walk says
    return kind


def _name(lt):
    if int(lt["funcname"]):
        try:
            return lt["funcname"].string()
        except gdb.error:
            pass
    return "-"


def _entry(lt):
    if _state(lt) == "exited":
        return ""
    addr = int(lt["fn"])
    try:
        block = gdb.block_for_pc(addr)
        if block is not None and block.function is not None:
            return block.function.name
    except RuntimeError:
        pass
    text = gdb.execute("info symbol %#x" % addr, to_string=True)
    return text.split(" in section")[0].strip()


def _is_live():
    inf = gdb.selected_inferior()
    if inf.pid <= 0:
        return False
    conn = getattr(inf, "connection", None)
    return conn is None or conn.type != "core"


def _since(lt):
    """How long lt has been in its state, on a live process on this
    machine (the scheduler stamps CLOCK_MONOTONIC in ms modulo 2**32 with
    the low bit set, as Python's monotonic clock can be read); '-' on a
    core file."""
    try:
        since = int(lt["since_ms"])
    except gdb.error:
        return "-"
    if not since or not _is_live():
        return "-"
    now = ((time.monotonic_ns() // 1000000) | 1) & 0xFFFFFFFF
    d = (now - since) & 0xFFFFFFFF
    return "%d ms" % d if d < 0x80000000 else "-"


def _where(lt, s):
    """Where lt's frames are."""
    state = _state(lt)
    if state == "exited":
        return "-"
    if int(lt["sp"]) == 0:
        return "not started"
    if int(s["host"]["current"]) == int(lt):
        return "running"
    region = lt["region"]
    used = int(region["top"]) - int(lt["sp"])
    if int(lt["flags"]) & _flag("SAVED"):
        return "saved %d B" % used
    if int(lt["flags"]) & _flag("PRIVATE"):
        return "private %d B" % used
    return "in place %d B" % used


# ---- gdb threads -------------------------------------------------------------


def _tls(thread, name):
    """The value of TLS variable `name` in gdb thread `thread`, or None."""
    old = gdb.selected_thread()
    try:
        thread.switch()
        return gdb.parse_and_eval(name)
    except gdb.error:
        return None
    finally:
        if old is not None and old.is_valid():
            old.switch()


def _thread_of_sched(s):
    for t in gdb.selected_inferior().threads():
        v = _tls(t, "lthread__tls_sched")
        if v is not None and int(v) == int(s):
            return t
    return None


def _thread_running(lt):
    """The gdb thread whose host runs lt now (its scheduler's pthread, or
    a compute pthread), or None."""
    for t in gdb.selected_inferior().threads():
        h = _tls(t, "lthread__tls_host")
        if h is not None and int(h) and int(h["current"]) == int(lt):
            return t
    return None


# ---- the unwinder --------------------------------------------------------------


class _FrameId(object):
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


# Switch frame field -> gdb register(s). Fields not named here (control
# words, FP registers, padding) are not given to gdb.
_FIELD_REGS = {
    "x86_64": {"ret": ["rip"], "rbp": ["rbp"], "rbx": ["rbx"],
               "r12": ["r12"], "r13": ["r13"], "r14": ["r14"],
               "r15": ["r15"]},
    "aarch64": dict([("x%d" % i, ["x%d" % i]) for i in range(19, 29)] +
                    [("fp", ["x29"]), ("lr", ["pc", "x30"])]),
    "riscv64": dict([("s%d" % i, ["s%d" % i]) for i in range(1, 12)] +
                    [("s0", ["fp"]), ("ra", ["pc", "ra"])]),
}
_SP_PC = {"x86_64": ("rsp", "rip"), "aarch64": ("sp", "pc"),
          "riscv64": ("sp", "pc")}


def _arch():
    name = gdb.selected_inferior().architecture().name()
    if "x86-64" in name:
        return "x86_64"
    if "aarch64" in name:
        return "aarch64"
    if "riscv" in name:
        return "riscv64"
    raise gdb.GdbError("lthread: no unwinding for architecture " + name)


class _Unwinder(gdb.unwinder.Unwinder):
    """Claims the innermost frame of one gdb thread while active, saying
    its caller is a suspended lthread's resume point."""

    def __init__(self):
        super(_Unwinder, self).__init__("lthread")
        self.regs = None
        self.thread = None

    def __call__(self, pending):
        if self.regs is None or pending.level() != 0:
            return None
        t = gdb.selected_thread()
        if t is None or t.num != self.thread:
            return None
        sp_name, pc_name = _SP_PC[_arch()]
        info = pending.create_unwind_info(
            _FrameId(pending.read_register(sp_name),
                     pending.read_register(pc_name)))
        for name, value in self.regs.items():
            info.add_saved_register(
                name, gdb.Value(value).cast(pending.read_register(name).type))
        return info


_UNWINDER = _Unwinder()
gdb.unwinder.register_unwinder(None, _UNWINDER, replace=True)


def _switch_frame_regs(sp):
    """The registers the switch saved at sp, by gdb register name."""
    arch = _arch()
    frame_t = _type("struct lthread__switch_frame")
    frame = gdb.Value(sp).cast(frame_t.pointer()).dereference()
    regs = {}
    for field in frame_t.fields():
        for reg in _FIELD_REGS[arch].get(field.name, []):
            regs[reg] = int(frame[field.name])
    regs[_SP_PC[arch][0]] = sp + frame_t.sizeof
    return regs


class _Placed(object):
    """While active: lt's frames readable at their addresses and gdb's
    selected thread's innermost frame unwinding into them (frame 1 is the
    lthread's innermost). Puts everything back on exit."""

    def __init__(self, lt):
        self.lt = lt
        self.saved_bytes = None
        self.start = 0

    def __enter__(self):
        lt = self.lt
        sp = int(lt["sp"])
        inf = gdb.selected_inferior()
        if int(lt["flags"]) & _flag("SAVED"):
            # An image of 1 KiB or more starts at sp or 16 bytes below it
            # (region.c, image_skew): whichever puts both at one offset
            # mod 32.
            start = sp
            if int(lt["region"]["top"]) - sp >= 1024:
                start -= (sp - int(lt["image"])) & 16
            n = int(lt["region"]["top"]) - start
            image = bytes(inf.read_memory(int(lt["image"]), n))
            self.saved_bytes = bytes(inf.read_memory(start, n))
            self.start = start
            try:
                inf.write_memory(start, image)
            except gdb.MemoryError:
                self.saved_bytes = None
                raise gdb.GdbError(
                    "lthread %d: its frames are saved in its image (%d B at "
                    "%#x), and the region they belong in cannot be written "
                    "here (a core file opened read-only). To see them, "
                    "open a copy of the core with `set write on` before "
                    "`core-file`: the script writes the image in and puts "
                    "the bytes back." % (int(lt["id"]), n,
                                         int(lt["image"])))
        _UNWINDER.regs = _switch_frame_regs(sp)
        _UNWINDER.thread = gdb.selected_thread().num
        gdb.invalidate_cached_frames()
        return self

    def __exit__(self, *exc):
        _UNWINDER.regs = None
        if self.saved_bytes is not None:
            gdb.selected_inferior().write_memory(self.start,
                                                 self.saved_bytes)
            self.saved_bytes = None
        gdb.invalidate_cached_frames()
        try:
            gdb.execute("select-frame 0", to_string=True)
        except gdb.error:
            pass
        return False


def _renumber(text, drop):
    """Drops the first `drop` frames of a `bt` listing, renumbering."""
    out = []
    skipping = False
    for line in text.splitlines():
        m = re.match(r"^#(\d+)(\s+)(.*)$", line)
        if m:
            n = int(m.group(1))
            skipping = n < drop
            if not skipping:
                line = "#%-*d%s" % (len(m.group(1)) + len(m.group(2)) - 0,
                                    n - drop, m.group(3))
                line = re.sub(r"^#(\d+)\s*", lambda k: "#%s  " % k.group(1),
                              line)
        if not skipping:
            out.append(line)
    return "\n".join(out)


# ---- finding an lthread ----------------------------------------------------------


def _all():
    for s in _schedulers():
        for lt in _lthreads_of(s):
            yield s, lt


def _find(spec):
    found = []
    for s, lt in _all():
        if spec in (str(int(lt["id"])), _name(lt), _entry(lt)):
            found.append((s, lt))
    if not found:
        raise gdb.GdbError("lthread: no lthread %s (see `info lthreads`)" %
                           spec)
    named = [f for f in found if spec == _name(f[1])]
    if len(found) > 1 and len(named) == 1:
        return named[0]
    if len(found) > 1:
        raise gdb.GdbError("lthread: %d lthreads are named %s: use the id" %
                           (len(found), spec))
    return found[0]


def _in_frames(s, lt, fn):
    """Calls fn(drop) with lt's frames selectable in gdb: drop is the
    number of gdb frames above lt's innermost one. Returns fn's result,
    or prints why there are no frames."""
    state = _state(lt)
    ident = "lthread %d (%s)" % (int(lt["id"]), _name(lt))
    if state == "exited":
        print("%s has exited: it has no frames." % ident)
        return None
    if int(lt["sp"]) == 0:
        print("%s has not run yet: it starts at %s." % (ident, _entry(lt)))
        return None
    if state in ("running", "computing"):
        t = _thread_running(lt)
        if t is not None:
            old = gdb.selected_thread()
            t.switch()
            try:
                print("%s runs on gdb thread %d (LWP %d):" %
                      (ident, t.num, t.ptid[1]))
                return fn(0)
            finally:
                old.switch()
        if state == "running":
            print("%s runs, but no gdb thread's host runs it (no TLS "
                  "access here?)." % ident)
            return None
        # Computing, not picked up by a compute pthread yet: suspended.
    with _Placed(lt):
        return fn(1)


# ---- commands ----------------------------------------------------------------------


class InfoLthreads(gdb.Command):
    """List every lthread of every scheduler: id, name, state, what it waits
for, how long it has been in its state (live processes), where its frames
are (running, in place in its region, saved in its image, on a private
stack) and its entry function."""

    def __init__(self):
        super(InfoLthreads, self).__init__("info lthreads", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        n = 0
        for s in _schedulers():
            lts = _lthreads_of(s)
            t = _thread_of_sched(s)
            where = ("gdb thread %d (LWP %d)" % (t.num, t.ptid[1])
                     if t is not None else "its pthread not found")
            print("scheduler %#x, %s: %d lthreads" % (int(s), where,
                                                      len(lts)))
            print("  %8s %-20s %-9s %-16s %9s %-16s %s" %
                  ("id", "name", "state", "waits for", "for", "frames",
                   "entry"))
            for lt in lts:
                print("  %8d %-20.20s %-9s %-16s %9s %-16s %s" %
                      (int(lt["id"]), _name(lt), _state(lt), _wait(lt),
                       _since(lt), _where(lt, s), _entry(lt)))
            n += 1
        if not n:
            print("No lthread schedulers.")


class Lthread(gdb.Command):
    """Commands for lthreads: lthread bt, lthread frame, lthread apply
(see `info lthreads` for the ids and names)."""

    def __init__(self):
        super(Lthread, self).__init__("lthread", gdb.COMMAND_STACK,
                                      prefix=True)


class LthreadBt(gdb.Command):
    """lthread bt ID|NAME|all [full]: the backtrace of an lthread, whether
it runs, is suspended with its frames in place, or has them saved in its
image. `full` adds the locals."""

    def __init__(self):
        super(LthreadBt, self).__init__("lthread bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: lthread bt ID|NAME|all [full]")
        full = " full" if argv[1:] == ["full"] else ""
        targets = list(_all()) if argv[0] == "all" else [_find(argv[0])]
        for s, lt in targets:
            print("lthread %d (%s), %s%s:" %
                  (int(lt["id"]), _name(lt), _state(lt),
                   (", " + _wait(lt)) if _wait(lt) else ""))

            def bt(drop):
                text = gdb.execute("bt" + full, to_string=True)
                print(_renumber(text, drop))

            _in_frames(s, lt, bt)


class LthreadFrame(gdb.Command):
    """lthread frame ID|NAME [N]: frame N (default 0, its innermost) of an
lthread: where it is, its arguments and its locals."""

    def __init__(self):
        super(LthreadFrame, self).__init__("lthread frame", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv or len(argv) > 2:
            raise gdb.GdbError("usage: lthread frame ID|NAME [N]")
        n = int(argv[1]) if len(argv) > 1 else 0
        _apply(argv[0], n, ["frame", "info args", "info locals"])


class LthreadApply(gdb.Command):
    """lthread apply ID|NAME [N] COMMAND: runs gdb COMMAND with frame N
(default 0) of the lthread selected, e.g. `lthread apply 7 2 print *req`.
Its frames are placed for the command's duration only: do not resume the
program from COMMAND."""

    def __init__(self):
        super(LthreadApply, self).__init__("lthread apply", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = arg.split(None, 2)
        if len(argv) < 2:
            raise gdb.GdbError("usage: lthread apply ID|NAME [N] COMMAND")
        if len(argv) == 3 and argv[1].isdigit():
            _apply(argv[0], int(argv[1]), [argv[2]])
        else:
            _apply(argv[0], 0, [arg.split(None, 1)[1]])


def _apply(spec, n, commands):
    s, lt = _find(spec)

    def run(drop):
        gdb.execute("select-frame %d" % (n + drop), to_string=True)
        for c in commands:
            text = gdb.execute(c, to_string=True)
            if c == "frame":
                text = re.sub(r"^#\d+", "#%d" % n, text)
            print(text, end="")

    _in_frames(s, lt, run)


InfoLthreads()
Lthread()
LthreadBt()
LthreadFrame()
LthreadApply()
