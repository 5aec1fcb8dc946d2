# lthread: GNU make build.
#
#   ./configure [--prefix=DIR] ...   optional; writes config.mk
#   make                 build/liblthread.a and build/liblthread.so.*
#   make check           unit tests, the same under ASan+UBSan, install check
#   make install         honours DESTDIR and PREFIX (default /usr/local)
#   make help            every target
#
# Everything built goes under $(BUILD) (build/ by default); the sanitizer and
# cross builds are the same rules run again with BUILD=build/<flavour>.

# The example that `make demo` builds and runs (an examples/*.c basename).
DEMO = seed_webserver

-include config.mk

# ---- Installation directories -------------------------------------------

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/lthread
# The gdb script (tools/gdb/lthread.py): a copy to source by hand, and one
# that gdb loads with liblthread.so, at the path gdb's auto-load forms from
# the library's own path ($(GDB_AUTOLOAD_DIR) must be gdb's data-directory
# auto-load/ or be added to its scripts-directory: docs/DEBUGGING.md).
GDBDIR ?= $(PREFIX)/share/lthread/gdb
GDB_AUTOLOAD_DIR ?= $(PREFIX)/share/gdb/auto-load
DESTDIR ?=
INSTALL ?= install
# Refreshes the dynamic linker's cache after a real (non-DESTDIR) install by
# root, so that programs find a new library in /usr/local/lib at once.
# `make install LDCONFIG=:` skips it.
LDCONFIG ?= ldconfig

# ---- Version: include/lthread.h is the only place it is written ----------

# (`.define`: a literal hash would start a make comment.)
version_part = $(shell sed -n 's/^.define LTHREAD_VERSION_$(1)  *\([0-9][0-9]*\).*/\1/p' include/lthread.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

# ---- Target platform, from the compiler (so CC=... cross-builds) ---------

MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ARCH := $(strip \
    $(if $(filter x86_64-% amd64-%,$(MACHINE)),x86_64) \
    $(if $(filter aarch64-% arm64-%,$(MACHINE)),aarch64) \
    $(if $(filter riscv64-%,$(MACHINE)),riscv64))
OS := $(strip \
    $(if $(findstring linux,$(MACHINE)),linux) \
    $(if $(findstring freebsd,$(MACHINE)),freebsd) \
    $(if $(findstring darwin,$(MACHINE))$(findstring apple,$(MACHINE)),darwin))

# The event poller: one src/poller_<name>.c is compiled, the others are not.
POLLER := $(if $(filter linux,$(OS)),epoll,kqueue)
# What each system does its own way: src/os/<dir>/*.c (sendfile, a
# monotonic condition variable).
OS_DIR := $(if $(filter linux,$(OS)),linux,$(if $(filter freebsd darwin,$(OS)),bsd,generic))
OS_DIRS := $(OS_DIR) $(if $(filter darwin,$(OS)),darwin,posix)
# Disk I/O through io_uring (src/disk/uring.c) needs liburing: LIBURING is
# yes, no (the I/O thread pool alone: src/disk/uring_none.c) or auto:
# whether $(CC) links a program with -luring. Linux only, whatever it
# says. ./configure writes yes or no into config.mk; the cross builds ask
# for auto.
LIBURING ?= auto
ifeq ($(LIBURING),auto)
LIBURING_USE := $(if $(filter linux,$(OS)),$(shell printf \
    '\043include <liburing.h>\nint main(void) { struct io_uring r; return io_uring_queue_init(1, &r, 0); }\n' | \
    $(CC) -x c - -o /dev/null -luring >/dev/null 2>&1 && echo yes))
else
LIBURING_USE := $(if $(filter linux,$(OS)),$(filter yes,$(LIBURING)))
endif
DISK_SRCS := $(filter-out src/disk/$(if $(LIBURING_USE),uring_none,uring).c,\
                          $(wildcard src/disk/*.c))
# What a program linking the static library needs besides it and -pthread.
LIB_LIBS := $(if $(LIBURING_USE),-luring)
# The TLS examples (examples/https_*.c) need OpenSSL >= 1.1.1 (Debian:
# libssl-dev); the library never does. OPENSSL is yes, no (those examples
# are not built) or auto: whether $(CC) links a program with
# $(OPENSSL_LIBS). ./configure writes yes or no, and the flags pkg-config
# gave.
OPENSSL ?= auto
OPENSSL_CFLAGS ?=
OPENSSL_LIBS ?= -lssl -lcrypto
ifeq ($(OPENSSL),auto)
OPENSSL_USE := $(shell printf \
    '\043include <openssl/ssl.h>\nint main(void) { SSL_CTX_free(SSL_CTX_new(TLS_method())); return 0; }\n' | \
    $(CC) $(OPENSSL_CFLAGS) -x c - -o /dev/null $(OPENSSL_LIBS) >/dev/null 2>&1 && echo yes)
else
OPENSSL_USE := $(filter yes,$(OPENSSL))
endif

# liblthread_hook (src/hook/): the libc hooks, a shared library of its own
# that needs dlsym(RTLD_NEXT). HOOK is yes, no or auto (Linux, where $(CC)
# links a program calling dlsym with -ldl); ./configure writes it. The
# core library does not depend on it.
HOOK ?= auto
ifeq ($(HOOK),auto)
HOOK_USE := $(if $(filter linux,$(OS)),$(shell printf \
    '\043include <dlfcn.h>\nint main(void) { return !dlsym(RTLD_NEXT, "read"); }\n' | \
    $(CC) -D_GNU_SOURCE -x c - -o /dev/null -ldl >/dev/null 2>&1 && echo yes))
else
HOOK_USE := $(if $(filter linux,$(OS)),$(filter yes,$(HOOK)))
endif
HOOK_LIB_NAME := liblthread_hook.so

# ---- Flags ----------------------------------------------------------------

BUILD ?= build

# CFLAGS and LDFLAGS are the user's (config.mk or the command line); the
# flags the code needs are kept apart so that overriding CFLAGS keeps them.
CFLAGS ?= -O2 -g
LDFLAGS ?=
LDLIBS ?=

# Sanitizer flavour of this build: empty, asan (ASan + UBSan) or tsan.
SAN ?=
SAN_FLAGS_asan := -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=all
SAN_FLAGS_tsan := -fsanitize=thread -fno-omit-frame-pointer
SAN_FLAGS := $(SAN_FLAGS_$(SAN))

# Unwind tables in .eh_frame for every function, as x86-64 and aarch64
# compilers emit by default and riscv64's gcc does not (only .debug_frame,
# which gdb reads but the runtime unwinder does not): backtrace(), perf's
# DWARF call graphs and exceptions through an lthread's frames then walk
# to its entry on every architecture (test_switch checks it).
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Iinclude -Isrc -pthread \
               -fasynchronous-unwind-tables
# A frame larger than a page could step over a stack's guard page into a
# neighbouring region: probe it page by page where the compiler can. No
# cost measured here (the library's .text is identical with and without:
# none of its frames is that large); code that runs in lthreads should be
# built with it too (docs/DESIGN.md).
STACK_CLASH := $(shell $(CC) -fstack-clash-protection -x c -c /dev/null \
                 -o /dev/null >/dev/null 2>&1 && echo -fstack-clash-protection)
# `make check` builds the library and the tests with -Werror: they are
# warning-free under -Wall -Wextra in every configuration it builds.
WERROR ?=
LIB_CFLAGS := $(BASE_CFLAGS) -fPIC -fvisibility=hidden -DLTHREAD_BUILDING \
              $(STACK_CLASH) $(WERROR) $(CFLAGS) $(SAN_FLAGS)
TEST_CFLAGS := $(BASE_CFLAGS) -Itests $(WERROR) $(CFLAGS) $(SAN_FLAGS) \
               $(if $(LIBURING_USE),-DLTHREAD_TEST_LIBURING=1)
# Examples are user code: -Wall, the public header only.
EXAMPLE_CFLAGS := -std=gnu11 -Wall -D_GNU_SOURCE -Iinclude -pthread \
                  $(STACK_CLASH) $(CFLAGS) $(SAN_FLAGS)
DEPFLAGS = -MMD -MP -MF $(@:.o=.d)

# ---- Sources and outputs --------------------------------------------------

ARCH_SRCS := $(wildcard src/arch/$(ARCH)/*.c src/arch/$(ARCH)/*.S)
LIB_SRCS := $(filter-out $(filter-out src/poller_$(POLLER).c,\
                                      $(wildcard src/poller_*.c)),\
                         $(wildcard src/*.c)) \
            $(wildcard src/sync/*.c src/debug/*.c) $(DISK_SRCS) \
            $(wildcard $(OS_DIRS:%=src/os/%/*.c)) $(ARCH_SRCS)
obj_of = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))
LIB_OBJS := $(call obj_of,$(LIB_SRCS))
ARCH_OBJS := $(call obj_of,$(ARCH_SRCS))

ifeq ($(OS),darwin)
SHLIB_REAL := liblthread.$(VERSION).dylib
SHLIB_SONAME := liblthread.$(VERSION_MAJOR).dylib
SHLIB_LINK := liblthread.dylib
SHLIB_LDFLAGS = -dynamiclib -install_name $(LIBDIR)/$(SHLIB_SONAME) \
                -compatibility_version $(VERSION_MAJOR) \
                -current_version $(VERSION)
else
SHLIB_REAL := liblthread.so.$(VERSION)
SHLIB_SONAME := liblthread.so.$(VERSION_MAJOR)
SHLIB_LINK := liblthread.so
# -z defs: an unresolved symbol fails the link, not a user's program later.
SHLIB_LDFLAGS = -shared -Wl,-soname,$(SHLIB_SONAME) -Wl,-z,defs
endif

STATIC_LIB := $(BUILD)/liblthread.a
HOOK_LIB := $(if $(HOOK_USE),$(BUILD)/$(HOOK_LIB_NAME))
SHARED_LIB := $(BUILD)/$(SHLIB_REAL)

TEST_SRCS := $(wildcard tests/test_*.c)
# The kqueue backend's test runs against a double of the kernel, built from
# Linux's headers: on Linux only, in FreeBSD's and macOS's flavours.
KQUEUE_DOUBLE_BINS := $(if $(filter linux,$(OS)),\
    $(BUILD)/tests/test_poller_kqueue $(BUILD)/tests/test_poller_kqueue_macos)
# lthread_sendfile() where the system cannot send a file (src/os/generic/),
# on systems that can: the copying path runs too.
SENDFILE_COPY_BIN := $(if $(filter-out generic,$(OS_DIR)),\
    $(BUILD)/tests/test_socket_sendfile_copy)
# src/os/bsd/sendfile.c against a double of the BSDs' sendfile(2): on Linux
# only, in FreeBSD's and macOS's flavours.
SENDFILE_BSD_BINS := $(if $(filter linux,$(OS)),\
    $(BUILD)/tests/test_sendfile_bsd $(BUILD)/tests/test_sendfile_bsd_macos)
# src/os/darwin/cond.c against a double of macOS's relative wait.
COND_DARWIN_BIN := $(if $(filter linux,$(OS)),$(BUILD)/tests/test_os_cond_darwin)
TEST_BINS := $(filter-out $(BUILD)/tests/test_poller_kqueue \
                          $(BUILD)/tests/test_sendfile_bsd,\
                 $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))) \
             $(KQUEUE_DOUBLE_BINS) $(SENDFILE_COPY_BIN) $(SENDFILE_BSD_BINS) \
             $(COND_DARWIN_BIN)
# The tests that use the public API alone also run against the shared
# library, as users link it (the others read internal state).
PUBLIC_TEST_SRCS := $(shell grep -L 'lthread__\|lthread_int\.h\|alloc\.h\|arch/switch\.h' \
                        $(TEST_SRCS) /dev/null 2>/dev/null)
SHARED_TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests-shared/%,\
                        $(filter tests/%,$(PUBLIC_TEST_SRCS)))
EXAMPLE_SRCS := $(filter-out $(if $(OPENSSL_USE),,examples/https_%),\
                              $(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
MAN_PAGES := $(wildcard man/*.3)
# The other names the pages document, as "name:page" (man/aliases.sh): each
# gets an alias page, `.so man3/<page>.3`. $(MAN_TREE) is what is installed
# in man3/: the pages and their aliases.
MAN_ALIASES := $(shell sh man/aliases.sh 2>/dev/null | tr ' ' :)
MAN_TREE := $(BUILD)/man/man3
MAN_TREE_PAGES := $(addprefix $(MAN_TREE)/,$(notdir $(MAN_PAGES)))
MAN_TREE_ALIASES := $(foreach a,$(MAN_ALIASES),\
                        $(MAN_TREE)/$(firstword $(subst :, ,$(a))).3)

# ---- Running tests ----------------------------------------------------------

# tests/run.sh runs the binaries it is given and ends with "N passed, N failed".
RUN_TESTS ?= bash tests/run.sh
# A command that each test runs under (valgrind, qemu); tests/run.sh reads it
# from the environment.
TEST_WRAPPER ?=
# Extra VAR=value settings for the tests' environment.
TEST_ENV ?=
# What the tests multiply their time tolerances by (LTHREAD_TEST_SLOW in the
# environment wins): more under sanitizers, valgrind and emulation.
TEST_SLOW ?= 1
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
VALGRIND ?= valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite
# The lifecycle fuzzer (tests/fuzz_lifecycle.c): run-tests runs FUZZ_SEEDS
# seeds, FUZZ_JOBS at a time, in the plain, ASan+UBSan and qemu builds
# (under TSan or valgrind they would take minutes), then FUZZ_MC_SEEDS seeds
# of its multi-scheduler mode (-m), FUZZ_TSAN_MC_SEEDS under TSan; `make
# fuzz SEEDS=N [MC_SEEDS=N] [FIRST=S]` runs more, from a random first seed
# unless FIRST is given.
FUZZ_SRC := $(wildcard tests/fuzz_lifecycle.c)
FUZZ_BIN := $(if $(FUZZ_SRC),$(BUILD)/tests/fuzz_lifecycle)
FUZZ_SEEDS ?= 300
FUZZ_MC_SEEDS ?= 50
FUZZ_TSAN_MC_SEEDS ?= 10
FUZZ_JOBS ?= 4
SEEDS ?= 2000
MC_SEEDS ?= 500
FIRST ?=
AARCH64_CC ?= aarch64-linux-gnu-gcc
AARCH64_AR ?= aarch64-linux-gnu-ar
QEMU_AARCH64 ?= qemu-aarch64 -L /usr/aarch64-linux-gnu
RISCV64_CC ?= riscv64-linux-gnu-gcc
RISCV64_AR ?= riscv64-linux-gnu-ar
QEMU_RISCV64 ?= qemu-riscv64 -L /usr/riscv64-linux-gnu
# The cross compiler of check-targets.
CLANG ?= clang

# ---- Build rules ------------------------------------------------------------

.PHONY: all lib hook man examples demo tests check check-unit check-shared check-asan check-tsan \
        check-valgrind check-aarch64 check-riscv64 check-install check-man check-targets \
        print-target run-tests fuzz fuzz-run mutants check-mutants-list \
        install uninstall clean bench format format-check help platform FORCE

all: lib

lib: $(STATIC_LIB) $(SHARED_LIB) $(BUILD)/$(SHLIB_SONAME) $(BUILD)/$(SHLIB_LINK) \
     $(HOOK_LIB)

# Stop early, with a reason, on a platform the sources do not cover.
platform:
	@test -n "$(ARCH)" || { echo "lthread: unsupported architecture" \
	    "'$(MACHINE)' ($(CC) -dumpmachine); x86_64, aarch64 and" \
	    "riscv64 are" >&2; \
	    exit 1; }
	@test -n "$(OS)" || { echo "lthread: unsupported OS '$(MACHINE)';" \
	    "Linux, FreeBSD and macOS are" >&2; exit 1; }
	@test "$(VERSION_MAJOR)" != "" || { echo "lthread: no" \
	    "LTHREAD_VERSION_MAJOR in include/lthread.h" >&2; exit 1; }

# Objects depend on the flags they were built with: changing CC or CFLAGS
# rebuilds them. The stamp is rewritten only when its text changes.
FLAGS_STAMP := $(BUILD)/flags
FLAGS_TEXT := $(CC) | $(LIB_CFLAGS) | $(TEST_CFLAGS) | $(LDFLAGS) $(LDLIBS) \
              $(LIB_LIBS)
$(FLAGS_STAMP): FORCE | platform
	@mkdir -p $(@D)
	@printf '%s\n' '$(subst ','\'',$(FLAGS_TEXT))' | cmp -s - $@ || \
	    printf '%s\n' '$(subst ','\'',$(FLAGS_TEXT))' > $@

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

# Assembled through the compiler driver: preprocessing, -g and CFI work.
$(BUILD)/obj/%.o: %.S $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) $(SHLIB_LDFLAGS) $(LDFLAGS) -o $@ $^ \
	    -pthread $(LIB_LIBS) $(LDLIBS)

$(BUILD)/$(SHLIB_SONAME): | $(SHARED_LIB)
	ln -sf $(SHLIB_REAL) $@

$(BUILD)/$(SHLIB_LINK): | $(BUILD)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $@

# Tests link the static library: they may call internal (hidden) symbols.
$(BUILD)/tests/%: tests/%.c $(STATIC_LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(STATIC_LIB) -pthread $(LIB_LIBS) -lm $(LDLIBS)

# The same tests against the shared library (found through an rpath).
# (-llthread must find liblthread.so, not the static library beside it:
# the link name is an order-only prerequisite, else a parallel make of
# several goals may link a test before the symlink exists.)
$(BUILD)/tests-shared/%: tests/%.c $(SHARED_LIB) $(FLAGS_STAMP) | \
    $(BUILD)/$(SHLIB_LINK)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    -L$(BUILD) -llthread -Wl,-rpath,$(abspath $(BUILD)) -pthread -lm \
	    $(LDLIBS)

# The context switch alone, without the library around it.
$(BUILD)/tests/test_switch: tests/test_switch.c $(ARCH_OBJS) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(ARCH_OBJS) -pthread -lm $(LDLIBS)

# The poller alone, through src/poller.h: the backend this build compiles.
POLLER_OBJ := $(call obj_of,src/poller_$(POLLER).c)
$(BUILD)/tests/test_poller: tests/test_poller.c $(POLLER_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(POLLER_OBJ) -pthread $(LDLIBS)

# src/poller_kqueue.c against tests/kqueue_double/sys/event.h and the
# kevent() double in the test; the macOS flavour has EV_OOBAND.
$(BUILD)/tests/test_poller_kqueue_macos: KQ_DOUBLE_FLAGS := -DKQ_DOUBLE_MACOS
$(KQUEUE_DOUBLE_BINS): tests/test_poller_kqueue.c src/poller_kqueue.c \
    tests/kqueue_double/sys/event.h tests/poller_cases.h tests/check.h \
    src/poller.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Itests/kqueue_double $(KQ_DOUBLE_FLAGS) \
	    $(LDFLAGS) -o $@ tests/test_poller_kqueue.c src/poller_kqueue.c \
	    -pthread $(LDLIBS)

# The monotonic condition variable alone: this system's, and (on Linux)
# macOS's against a double.
OS_COND_OBJ := $(call obj_of,$(filter src/os/%/cond.c,$(LIB_SRCS)))
$(BUILD)/tests/test_os_cond: tests/test_os_cond.c $(OS_COND_OBJ) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(OS_COND_OBJ) -pthread $(LDLIBS)

$(COND_DARWIN_BIN): tests/test_os_cond.c src/os/darwin/cond.c \
    tests/cond_double/darwin_cond.h src/os/cond.h tests/check.h $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -DCOND_DOUBLE_DARWIN \
	    -include tests/cond_double/darwin_cond.h $(LDFLAGS) -o $@ \
	    tests/test_os_cond.c src/os/darwin/cond.c -pthread $(LDLIBS)

$(BUILD)/tests/test_sendfile_bsd_macos: SENDFILE_DOUBLE_FLAGS := -D__APPLE__
$(SENDFILE_BSD_BINS): tests/test_sendfile_bsd.c src/os/bsd/sendfile.c \
    tests/sendfile_double/bsd_sendfile.h src/os/sendfile.h tests/check.h \
    $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) $(SENDFILE_DOUBLE_FLAGS) \
	    -include tests/sendfile_double/bsd_sendfile.h $(LDFLAGS) -o $@ \
	    tests/test_sendfile_bsd.c src/os/bsd/sendfile.c $(LDLIBS)

# The generic object comes before the archive, so the archive's
# lthread__os_sendfile is not linked.
$(BUILD)/tests/test_socket_sendfile_copy: tests/test_socket_sendfile.c \
    $(call obj_of,src/os/generic/sendfile.c) $(STATIC_LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(call obj_of,src/os/generic/sendfile.c) $(STATIC_LIB) -pthread \
	    $(LIB_LIBS) -lm $(LDLIBS)

# The seed's examples are kept byte for byte; their one unused variable stays.
$(BUILD)/examples/seed_%: EXAMPLE_CFLAGS += -Wno-unused-variable

# The TLS examples link OpenSSL (only built where OPENSSL_USE says so).
$(BUILD)/examples/https_%: EXAMPLE_CFLAGS += $(OPENSSL_CFLAGS)
$(BUILD)/examples/https_%: LDLIBS += $(OPENSSL_LIBS)

$(BUILD)/examples/%: examples/%.c $(STATIC_LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -MMD -MP -MT $@ -MF $@.d $(LDFLAGS) -o $@ $< \
	    $(STATIC_LIB) -pthread $(LIB_LIBS) $(LDLIBS)

# ---- liblthread_hook and its tests (tests/hook/) ----------------------------

HOOK_OBJS := $(call obj_of,$(wildcard src/hook/*.c))
$(BUILD)/$(HOOK_LIB_NAME): $(HOOK_OBJS) $(SHARED_LIB) | $(BUILD)/$(SHLIB_LINK)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -shared -Wl,-soname,$(HOOK_LIB_NAME) \
	    -Wl,-z,defs $(LDFLAGS) -o $@ $(HOOK_OBJS) -L$(BUILD) -llthread \
	    -ldl -pthread $(LDLIBS)

# Each test links the hook library (test_hook_preload does not: it runs
# itself again under LD_PRELOAD) and the shared liblthread. The client
# library tests need a package: without it they are built to exit 77,
# saying which (HOOK_PKG_<test>: pkg-config name, Debian package).
HOOK_TEST_BINS := $(if $(HOOK_USE),$(patsubst tests/hook/%.c,\
    $(BUILD)/tests-hook/%,$(wildcard tests/hook/test_*.c)))
HOOK_PKG_test_hook_redis := hiredis libhiredis-dev
HOOK_PKG_test_hook_pq := libpq libpq-dev
HOOK_PKG_test_hook_curl := libcurl libcurl4-openssl-dev
$(BUILD)/tests-hook/%: tests/hook/%.c $(HOOK_LIB) $(FLAGS_STAMP)
	@mkdir -p $(@D)
	@set -- $(HOOK_PKG_$*); pc=; libs=; \
	if [ -n "$$1" ]; then \
	    if pkg-config --exists $$1 2>/dev/null; then \
	        pc=$$(pkg-config --cflags $$1); libs=$$(pkg-config --libs $$1); \
	    else pc="-DHOOK_TEST_MISSING=\"$$2\""; fi; \
	fi; \
	hook=-llthread_hook; [ $* = test_hook_preload ] && hook=; \
	echo "$(CC) ... -o $@ $< $$hook -llthread $$libs"; \
	$(CC) $(TEST_CFLAGS) $$pc -DHOOK_LIB_PATH='"$(abspath $(HOOK_LIB))"' \
	    -DHOOK_BUILD_DIR='"$(abspath $(BUILD))"' -MMD -MP -MT $@ \
	    -MF $@.d $(LDFLAGS) -o $@ $< -L$(BUILD) -Wl,--no-as-needed $$hook \
	    -llthread -Wl,--as-needed -Wl,-rpath,$(abspath $(BUILD)) -pthread \
	    $$libs -ldl -lm $(LDLIBS)

# The curl test fetches from the example server.
$(BUILD)/tests-hook/test_hook_curl: $(BUILD)/examples/hello_server

hook: $(HOOK_LIB)

-include $(LIB_OBJS:.o=.d) $(TEST_BINS:=.d) $(FUZZ_BIN:=.d) $(EXAMPLE_BINS:=.d) $(HOOK_TEST_BINS:=.d)

man: $(MAN_TREE_PAGES) $(MAN_TREE_ALIASES)

$(MAN_TREE)/%.3: man/%.3
	@mkdir -p $(@D)
	cp $< $@

# An alias page: one line, naming its page (a rule per alias).
define man_alias_rule
$(MAN_TREE)/$(1).3: man/$(2).3 man/aliases.sh
	@mkdir -p $$(@D)
	@echo '.so man3/$(2).3' > $$@
endef
$(foreach a,$(MAN_ALIASES),$(eval $(call man_alias_rule,$(firstword \
    $(subst :, ,$(a))),$(lastword $(subst :, ,$(a))))))

tests: $(TEST_BINS)

examples: $(EXAMPLE_BINS)

demo: $(BUILD)/examples/$(DEMO)
	./$(BUILD)/examples/$(DEMO)

# ---- Checks ---------------------------------------------------------------

# Runs every test of this build (and the seed timer's output check, when
# tests/seed_timer.sh exists) under TEST_ENV and TEST_WRAPPER; fails if any
# of them fails. The example servers are checked from outside (curl, their
# clients) in the plain native build only: the script runs them through
# stdbuf (an LD_PRELOAD, which ASan refuses) and applies no wrapper (qemu).
# The fuzzer runs in the plain and ASan builds, without a wrapper; its
# multi-scheduler mode there and, fewer seeds, under TSan.
SEED_TIMER_CHECK := $(wildcard tests/seed_timer.sh)
EXAMPLES_CHECK := $(if $(strip $(TEST_WRAPPER)$(SAN)),,$(wildcard tests/test_examples.sh))
# Programs written as for the original library (tests/compat/), built with
# -Werror in C and C++ against the static library: plain native build only.
COMPAT_CHECK := $(if $(strip $(TEST_WRAPPER)$(SAN)),,$(wildcard tests/compat/run.sh))
# The TLS examples against curl and openssl s_client (tests/test_tls.sh):
# plain native build only, like the other examples; it exits 77 (skipped,
# not failed) where OpenSSL, its CLI or curl is missing.
TLS_CHECK := $(if $(strip $(TEST_WRAPPER)$(SAN)),,$(wildcard tests/test_tls.sh))
# The gdb script against a stopped program, its core file and an install
# (tests/test_gdb.sh): plain native build only; 77 is a skip (no gdb, no
# ptrace).
GDB_CHECK := $(if $(strip $(TEST_WRAPPER)$(SAN)),,$(wildcard tests/test_gdb.sh))
# The hook library's tests: plain native build only (ASan and TSan
# intercept the same libc calls; qemu builds have no hook library).
HOOK_CHECK := $(if $(strip $(TEST_WRAPPER)$(SAN)),,$(HOOK_TEST_BINS))
# The lifecycle fuzzer: the plain, ASan and qemu builds (not TSan's, which
# runs its -m mode alone, nor valgrind's: minutes). Under qemu it drives
# the architecture's own switch entries (the mates' swap, the frameless
# start, the exit's drop) through random lifecycles.
FUZZ_CHECK := $(if $(filter tsan,$(SAN))$(filter-out qemu-%,\
                $(firstword $(TEST_WRAPPER))),,$(FUZZ_BIN))
FUZZ_MC_CHECK := $(if $(strip $(TEST_WRAPPER)),,$(FUZZ_BIN))
FUZZ_MC_N := $(if $(filter tsan,$(SAN)),$(FUZZ_TSAN_MC_SEEDS),$(FUZZ_MC_SEEDS))
run-tests: $(TEST_BINS) $(if $(SEED_TIMER_CHECK),$(BUILD)/examples/seed_timer) \
    $(if $(EXAMPLES_CHECK),$(EXAMPLE_BINS)) $(FUZZ_CHECK) $(FUZZ_MC_CHECK) \
    $(HOOK_CHECK)
	@test -n "$(TEST_BINS)" || { echo "no tests/test_*.c to run" >&2; \
	    exit 1; }
	@echo "== tests: $(BUILD)$(if $(SAN), ($(SAN)))$(if \
	    $(strip $(TEST_WRAPPER)), under $(firstword $(TEST_WRAPPER)))"
	@export TEST_WRAPPER='$(strip $(TEST_WRAPPER))' \
	    LTHREAD_TEST_SLOW="$${LTHREAD_TEST_SLOW:-$(TEST_SLOW)}" $(TEST_ENV); \
	status=0; \
	$(RUN_TESTS) $(TEST_BINS) || status=1; \
	$(if $(SEED_TIMER_CHECK),sh $(SEED_TIMER_CHECK) \
	    $(BUILD)/examples/seed_timer || status=1;) \
	$(if $(COMPAT_CHECK),CC='$(CC)' LIBS='$(LIB_LIBS)' bash $(COMPAT_CHECK) \
	    $(BUILD) || status=1;) \
	$(if $(EXAMPLES_CHECK),EXAMPLES_DIR=$(BUILD)/examples \
	    bash $(EXAMPLES_CHECK) || status=1;) \
	$(if $(GDB_CHECK),CC='$(CC)' MAKE='$(MAKE)' bash $(GDB_CHECK) $(BUILD); \
	    rc=$$?; [ $$rc = 0 ] || [ $$rc = 77 ] || status=1;) \
	$(if $(TLS_CHECK),EXAMPLES_DIR=$(BUILD)/examples bash $(TLS_CHECK); \
	    rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ] || status=1;) \
	$(if $(HOOK_CHECK),echo "== tests: $(BUILD)/tests-hook (liblthread_hook)"; \
	    EXAMPLES_DIR=$(abspath $(BUILD))/examples \
	    $(RUN_TESTS) $(HOOK_CHECK) || status=1;) \
	$(if $(FUZZ_CHECK),$(TEST_WRAPPER) ./$(FUZZ_CHECK) -n $(FUZZ_SEEDS) \
	    -j $(FUZZ_JOBS) || status=1;) \
	$(if $(FUZZ_MC_CHECK),./$(FUZZ_MC_CHECK) -m -D -n $(FUZZ_MC_N) \
	    -j $(FUZZ_JOBS) || status=1;) \
	exit $$status

check-unit: lib examples
	@$(MAKE) --no-print-directory run-tests

check-shared: lib $(SHARED_TEST_BINS)
	@echo "== tests: $(BUILD)/tests-shared (public API, liblthread.so)"
	@LTHREAD_TEST_SLOW="$${LTHREAD_TEST_SLOW:-$(TEST_SLOW)}" \
	    $(RUN_TESTS) $(SHARED_TEST_BINS)

check-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=asan \
	    TEST_ENV='$(ASAN_ENV)' TEST_SLOW=3 run-tests

check-tsan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/tsan SAN=tsan \
	    TEST_ENV='$(TSAN_ENV)' TEST_SLOW=5 run-tests

check-valgrind:
	@$(MAKE) --no-print-directory TEST_WRAPPER='$(VALGRIND)' TEST_SLOW=20 \
	    run-tests

check-aarch64:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/aarch64 CC=$(AARCH64_CC) \
	    AR=$(AARCH64_AR) TEST_WRAPPER='$(QEMU_AARCH64)' TEST_SLOW=5 \
	    LIBURING=auto lib run-tests

check-riscv64:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/riscv64 CC=$(RISCV64_CC) \
	    AR=$(RISCV64_AR) TEST_WRAPPER='$(QEMU_RISCV64)' TEST_SLOW=5 \
	    LIBURING=auto lib run-tests

check-install:
	@CC='$(CC)' MAKE='$(MAKE)' sh tests/install_check.sh

# The fuzzer of this build, SEEDS seeds from FIRST, then MC_SEEDS of its
# multi-scheduler mode, with their coverage.
fuzz-run: $(FUZZ_BIN)
	@test -n "$(FUZZ_BIN)" || { echo "no tests/fuzz_lifecycle.c" >&2; exit 1; }
	@echo "== fuzz: $(BUILD)$(if $(SAN), ($(SAN))), $(SEEDS) seeds from $(or $(FIRST),1)"
	@export LTHREAD_TEST_SLOW="$${LTHREAD_TEST_SLOW:-$(TEST_SLOW)}" $(TEST_ENV); \
	status=0; \
	./$(FUZZ_BIN) -c -n $(SEEDS) -s $(or $(FIRST),1) -j $(FUZZ_JOBS) || status=1; \
	echo "== fuzz -m: $(MC_SEEDS) seeds from $(or $(FIRST),1)"; \
	./$(FUZZ_BIN) -m -D -c -n $(MC_SEEDS) -s $(or $(FIRST),1) -j $(FUZZ_JOBS) \
	    || status=1; \
	exit $$status

# Both builds, from the same first seed; not part of check.
fuzz:
	@first='$(FIRST)'; \
	[ -n "$$first" ] || first=$$(od -An -N3 -tu4 /dev/urandom | tr -d ' '); \
	status=0; \
	$(MAKE) --no-print-directory FIRST=$$first fuzz-run || status=1; \
	$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=asan \
	    TEST_ENV='$(ASAN_ENV)' TEST_SLOW=3 FIRST=$$first fuzz-run || status=1; \
	exit $$status

# Plants each bug of tests/mutants.txt in a copy of the tree and checks
# that the tests catch it; slow (minutes), not part of check.
# MUTANTS=name,name runs some.
mutants:
	@MAKE='$(MAKE)' MUTANTS='$(MUTANTS)' bash tests/mutants.sh

# Only plants them (seconds): every find block still matches its file
# once. Part of check, so that the list follows the code it mutates.
check-mutants-list:
	@echo "== mutants list"
	@MUTANTS_PLANT_ONLY=1 MUTANTS='$(MUTANTS)' bash tests/mutants.sh

# FreeBSD and macOS targets, with clang and no system headers: the switch
# assembled for each (ELF and Mach-O), the C files that need no system
# header compiled with -fsyntax-only; tests/targets_check.sh says which.
check-targets:
	@echo "== other systems' builds, as far as clang can check them here"
	@CLANG='$(CLANG)' MAKE='$(MAKE)' sh tests/targets_check.sh

# For tests/targets_check.sh: what this Makefile builds for $(CC).
print-target:
	@echo 'ARCH=$(ARCH)'
	@echo 'OS=$(OS)'
	@echo 'LIB_SRCS=$(LIB_SRCS)'

# The pages are linted; each alias must render its page from the installed
# layout (.so resolves from the man3/ directory's parent) and name itself
# there. (mandoc calls .so "fragile" and prefers links; man-db and mandoc
# both follow it, and it survives any packaging.)
check-man: man
	@if [ -z "$(MAN_PAGES)" ]; then \
	    echo "== no man/*.3 pages to lint"; \
	elif command -v mandoc >/dev/null 2>&1; then \
	    echo "== mandoc -Tlint $(MAN_PAGES)"; \
	    mandoc -Tlint -Wwarning $(MAN_PAGES) || exit 1; \
	    echo "== $(words $(MAN_ALIASES)) aliases render their pages"; \
	    cd $(MAN_TREE)/.. && for a in $(MAN_ALIASES); do \
	        n=$${a%%:*}; \
	        mandoc -Tlint -Werror man3/$$n.3 >/dev/null && \
	        mandoc -Tmarkdown man3/$$n.3 | tr -d '\\' | \
	            sed -n '/^# NAME/,/^# [A-Z]/p' | grep -qw "$$n" || \
	        { echo "alias $$n does not render its page" >&2; exit 1; }; \
	    done; \
	else \
	    echo "== mandoc not found: man pages not linted"; \
	fi

# One phase after another, so that -j does not interleave their output;
# each phase builds in parallel.
check: export WERROR := -Werror
check:
	@$(MAKE) --no-print-directory check-mutants-list
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory check-shared
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-tsan
	@if command -v $(AARCH64_CC) >/dev/null 2>&1 && \
	    command -v $(firstword $(QEMU_AARCH64)) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory check-aarch64; \
	elif [ -n "$$CI" ]; then \
	    echo "== CI: $(AARCH64_CC) or qemu missing" >&2; exit 1; \
	else \
	    echo "== SKIP aarch64: install gcc-aarch64-linux-gnu qemu-user"; \
	fi
	@if command -v $(RISCV64_CC) >/dev/null 2>&1 && \
	    command -v $(firstword $(QEMU_RISCV64)) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory check-riscv64; \
	elif [ -n "$$CI" ]; then \
	    echo "== CI: $(RISCV64_CC) or qemu missing" >&2; exit 1; \
	else \
	    echo "== SKIP riscv64: install gcc-riscv64-linux-gnu" \
	        "libc6-dev-riscv64-cross qemu-user"; \
	fi
	@if command -v $(CLANG) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory check-targets; \
	elif [ -n "$$CI" ]; then \
	    echo "== CI: $(CLANG) missing" >&2; exit 1; \
	else \
	    echo "== SKIP other systems' builds: install clang llvm"; \
	fi
	@$(MAKE) --no-print-directory check-man
	@if command -v $(CLANG_FORMAT) >/dev/null 2>&1; then \
	    echo "== $(CLANG_FORMAT) --dry-run --Werror"; \
	    $(MAKE) --no-print-directory format-check; \
	else \
	    echo "== $(CLANG_FORMAT) not found: formatting not checked"; \
	fi
	@$(MAKE) --no-print-directory check-install

bench:
	$(MAKE) -C bench

# The hot paths against State Threads, Boost.Context, libaco (LIBACO=DIR,
# its source outside the tree) and the raw epoll loop, under two minutes.
.PHONY: bench-quick
bench-quick: lib
	LIBACO=$(LIBACO) bench/quick.sh

# ---- Install ----------------------------------------------------------------

# Turns a *.in template into its installed form. pkg-config gets directories
# under the prefix as ${prefix}/..., so that --define-prefix can relocate it.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' \
            -e 's|@PC_LIBDIR@|$(call pc_dir,$(LIBDIR))|g' \
            -e 's|@PC_INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|g' \
            -e 's|@LIBDIR@|$(LIBDIR)|g' \
            -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
            -e 's|@VERSION@|$(VERSION)|g' \
            -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
            -e 's|@SHLIB_REAL@|$(SHLIB_REAL)|g' \
            -e 's|@SHLIB_SONAME@|$(SHLIB_SONAME)|g' \
            -e 's|@PC_LIBS_PRIVATE@|$(LIB_LIBS)|g' \
            -e 's|@CMAKE_LIBS_PRIVATE@|$(patsubst -l%,%,$(LIB_LIBS))|g'

install: lib man
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	$(INSTALL) -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/
	$(if $(HOOK_LIB),$(INSTALL) -m 755 $(HOOK_LIB) $(DESTDIR)$(LIBDIR)/)
	ln -sf $(SHLIB_REAL) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)
	ln -sf $(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/$(SHLIB_LINK)
	$(INSTALL) -m 644 include/lthread.h $(DESTDIR)$(INCLUDEDIR)/
	$(SUBST) lthread.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/lthread.pc
	$(SUBST) cmake/lthreadConfig.cmake.in \
	    > $(DESTDIR)$(CMAKEDIR)/lthreadConfig.cmake
	$(SUBST) cmake/lthreadConfigVersion.cmake.in \
	    > $(DESTDIR)$(CMAKEDIR)/lthreadConfigVersion.cmake
	$(INSTALL) -d $(DESTDIR)$(GDBDIR) $(DESTDIR)$(GDB_AUTOLOAD_DIR)$(LIBDIR)
	$(INSTALL) -m 644 tools/gdb/lthread.py $(DESTDIR)$(GDBDIR)/
	$(INSTALL) -m 644 tools/gdb/lthread.py \
	    $(DESTDIR)$(GDB_AUTOLOAD_DIR)$(LIBDIR)/$(SHLIB_REAL)-gdb.py
ifneq ($(MAN_PAGES),)
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man3
	$(INSTALL) -m 644 $(MAN_TREE_PAGES) $(MAN_TREE_ALIASES) \
	    $(DESTDIR)$(MANDIR)/man3/
endif
ifeq ($(OS),linux)
	@# ldconfig helps only for a directory the dynamic linker searches.
	@if [ -n "$(DESTDIR)" ]; then :; \
	elif $(firstword $(LDCONFIG)) -v -N 2>/dev/null | grep -q "^$(LIBDIR):"; then \
	    if [ "$$(id -u)" = 0 ] && \
	        command -v $(firstword $(LDCONFIG)) >/dev/null 2>&1; then \
	        echo "$(LDCONFIG)"; $(LDCONFIG) || true; \
	    fi; \
	else \
	    echo "note: $(LIBDIR) is not searched by the dynamic linker:" \
	        "link with -Wl,-rpath,$(LIBDIR) or set" \
	        "LD_LIBRARY_PATH=$(LIBDIR); pkg-config needs" \
	        "PKG_CONFIG_PATH=$(PKGCONFIGDIR), CMake" \
	        "CMAKE_PREFIX_PATH=$(PREFIX)"; \
	fi
endif

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/liblthread.a \
	    $(DESTDIR)$(LIBDIR)/$(SHLIB_REAL) \
	    $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME) \
	    $(DESTDIR)$(LIBDIR)/$(SHLIB_LINK) \
	    $(DESTDIR)$(LIBDIR)/$(HOOK_LIB_NAME) \
	    $(DESTDIR)$(INCLUDEDIR)/lthread.h \
	    $(DESTDIR)$(PKGCONFIGDIR)/lthread.pc \
	    $(DESTDIR)$(CMAKEDIR)/lthreadConfig.cmake \
	    $(DESTDIR)$(CMAKEDIR)/lthreadConfigVersion.cmake \
	    $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(MAN_TREE_PAGES) \
	                                                 $(MAN_TREE_ALIASES))) \
	    $(DESTDIR)$(GDBDIR)/lthread.py \
	    $(DESTDIR)$(GDB_AUTOLOAD_DIR)$(LIBDIR)/$(SHLIB_REAL)-gdb.py
	-rmdir $(DESTDIR)$(GDBDIR) 2>/dev/null
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

# ---- Housekeeping -------------------------------------------------------------

clean:
	rm -rf $(BUILD)

CLANG_FORMAT ?= clang-format
FORMAT_SRCS = $(wildcard include/*.h src/*.[ch] src/sync/*.[ch] src/debug/*.[ch] \
                         src/disk/*.[ch] src/hook/*.[ch] src/arch/*.h \
                         src/arch/*/*.[ch] src/os/*.h src/os/*/*.c tests/*.[ch] \
                         tests/kqueue_double/sys/*.h \
                         tests/sendfile_double/*.h tests/cond_double/*.h \
                         tests/hook/*.[ch] \
                         bench/*.[ch])

format:
	$(CLANG_FORMAT) -i $(FORMAT_SRCS)

format-check:
	$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

help:
	@echo 'lthread $(VERSION) for $(MACHINE) (arch $(ARCH), os $(OS))'
	@echo 'make [all] | lib    $(BUILD)/liblthread.a and the shared library'
	@echo 'make examples       examples/*.c into $(BUILD)/examples/'
	@echo 'make demo           build and run examples/$(DEMO).c'
	@echo 'make tests          the tests into $(BUILD)/tests/'
	@echo 'make hook           $(BUILD)/liblthread_hook.so (also built by make lib$(if $(HOOK_USE),,: not in this build))'
	@echo 'make check          runs these targets in turn, stopping at the first that fails:'
	@echo '  check-unit        the tests, the seed timer example, the example servers'
	@echo '                    (curl, their clients, stopping on SIGTERM)'
	@echo '  check-shared      the public-API tests against the shared library'
	@echo '  check-asan        the tests under ASan+UBSan, in $(BUILD)/asan/'
	@echo '  check-tsan        the tests under TSan, in $(BUILD)/tsan/'
	@echo '  check-aarch64     cross-build, tests under qemu-aarch64 (skipped without'
	@echo '                    $(AARCH64_CC) and qemu, except under CI)'
	@echo '  check-riscv64     cross-build, tests under qemu-riscv64 (likewise)'
	@echo '  check-targets     FreeBSD/macOS: switch assembled, C syntax (clang)'
	@echo '  check-man         mandoc -Tlint of the man pages, aliases rendered'
	@echo '  format-check      $(CLANG_FORMAT) --dry-run --Werror (skipped without it)'
	@echo '  check-install     install into a temporary prefix and use it'
	@echo 'make check-valgrind the tests under valgrind (not part of make check)'
	@echo 'make bench          build the benchmarks (make -C bench); bench/run.sh runs them'
	@echo 'make bench-quick [LIBACO=DIR]  switch, create and hello server against'
	@echo '                    their peers in one run (< 2 min), ratios and targets'
	@echo 'make fuzz SEEDS=N [MC_SEEDS=N] [FIRST=S]  lifecycle fuzzer, plain and'
	@echo '                    ASan+UBSan, one scheduler then several (-m); make check'
	@echo '                    runs $(FUZZ_SEEDS) and $(FUZZ_MC_SEEDS) seeds in each,'
	@echo '                    $(FUZZ_TSAN_MC_SEEDS) of -m under TSan'
	@echo 'make mutants [MUTANTS=a,b]  plant each bug of tests/mutants.txt in a'
	@echo '                    copy of the tree; fails if the tests miss one (slow)'
	@echo 'make check-mutants-list  only plant them: fails if one no longer matches'
	@echo 'make LIBURING=no    build without io_uring: disk I/O on the I/O thread pool'
	@echo '                    (this build: $(if $(LIBURING_USE),io_uring and the pool,the pool only))'
	@echo 'make OPENSSL=no     do not build the TLS examples (examples/https_*.c)'
	@echo '                    (this build: $(if $(OPENSSL_USE),built: OpenSSL found,not built: no OpenSSL))'
	@echo 'make install | uninstall   (DESTDIR, PREFIX=$(PREFIX))'
	@echo 'make format         $(CLANG_FORMAT) -i the sources'
	@echo 'make clean          remove $(BUILD)/'

FORCE:
