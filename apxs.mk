# mod_preview build: make -f apxs.mk [all|install|uninstall|deb|test|asan|unit|fuzz|bench|demo|stop|format|deps|clean]
#
# The core (mod_preview/pv_*.c, no httpd headers) is built once, position
# independent, into build/libpvcore.a; the module (through apxs), the CLI, the
# unit tests and the fuzzer all link that one archive.

APXS      ?= apxs
CC        ?= cc
DESTDIR   ?=
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
# Where httpd looks for modules and for a2enmod's files (asked when used).
LIBEXECDIR ?= $(shell $(APXS) -q LIBEXECDIR)
MODSDIR    ?= $(shell $(APXS) -q SYSCONFDIR)/mods-available
B         := build
comma     := ,

PKGS      := apr-1 apr-util-1 openssl jansson vips libmariadb libxcrypt libjpeg lcms2 libdeflate
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
WARN      := -Wall -Wextra -Werror
# CPPFLAGS, CFLAGS and LDFLAGS from the environment come last (a package
# build passes the distribution's hardening flags that way).
CFLAGS_CORE := -std=gnu11 -O2 -g -fPIC $(WARN) -Iinclude $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)

CORE_SRC  := $(sort $(wildcard mod_preview/pv_*.c))
CORE_OBJ  := $(CORE_SRC:mod_preview/%.c=$(B)/core/%.o)
CORE_LIB  := $(B)/libpvcore.a
GLUE_SRC  := $(sort $(wildcard mod_preview/mod_preview*.c))
HEADERS   := $(wildcard include/*.h)
MODULE    := mod_preview/.libs/mod_preview.so
CLI       := $(B)/preview-token
CACHE_CLI := $(B)/preview-cache
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_OBJ  := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%.o)
UNIT_BIN  := $(B)/unit/pv_unit
# libjpeg: test_jpeg_dc writes its fixtures with it (the core encodes the
# fast path's JPEGs with it, for its optimised Huffman tables).
UNIT_LIBS := $(shell pkg-config --libs check libjpeg libturbojpeg 2>/dev/null)
# X(b64url) X(cache) ...: the suites tests/unit/main.c runs, one per file.
UNIT_LIST := $(foreach f,$(UNIT_SRC),X($(f:tests/unit/test_%.c=%)))

.PHONY: all install uninstall deb test asan asan-build asan-runtime unit fuzz bench bench-verify demo stop format format-check deps clean

all: $(MODULE) $(CLI) $(CACHE_CLI)

$(B)/core/%.o: mod_preview/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# apxs/libtool warn that a plain archive is "not portable" to link into a
# module; its members are PIC, so on Linux it is what we want. The full apxs
# output goes to build/apxs.log and is shown only when it fails.
$(MODULE): $(GLUE_SRC) $(HEADERS) $(CORE_LIB)
	$(APXS) -c -o mod_preview/mod_preview.la \
	    -Wc,-std=gnu11 $(addprefix -Wc$(comma),$(WARN)) -Wc,-Wno-unused-parameter \
	    $(addprefix -Wc$(comma),$(CPPFLAGS) $(CFLAGS)) $(addprefix -Wl$(comma),$(LDFLAGS)) \
	    -Iinclude $(filter -I%,$(PKG_CFLAGS)) \
	    $(GLUE_SRC) $(CORE_LIB) $(PKG_LIBS) >$(B)/apxs.log 2>&1 \
	    || { cat $(B)/apxs.log; exit 1; }

$(B)/preview-%: mod_preview/cli_preview_%.c $(HEADERS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) $(LDFLAGS) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

$(B)/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -Itests/unit $$(pkg-config --cflags check) -c -o $@ $<

# One runner, every suite (tests/unit/main.c says why); main.c is compiled
# here, with the list of suites.
$(UNIT_BIN): tests/unit/main.c $(UNIT_OBJ) $(CORE_LIB)
	$(CC) $(CFLAGS_CORE) $$(pkg-config --cflags check) \
	    '-DPV_TEST_UNITS=$(UNIT_LIST)' -o $@ $< $(UNIT_OBJ) \
	    $(CORE_LIB) $(PKG_LIBS) $(UNIT_LIBS)

# Token verification micro-benchmark: make -f apxs.mk bench-verify
$(B)/bench/bench_verify: tests/bench/bench_verify.c $(HEADERS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

bench-verify: $(B)/bench/bench_verify
	@$(B)/bench/bench_verify

# install and uninstall honour DESTDIR (a staging folder may be empty);
# apxs -i prints libtool's advice on linking against libraries, which is
# not ours to follow: its output goes to build/apxs-install.log, shown on
# failure. uninstall removes exactly those files, and refuses while the
# module is enabled (httpd would not start with a2enmod's links dangling).
# Neither touches files of the Debian package: they are dpkg's.
INSTALLED = $(DESTDIR)$(LIBEXECDIR)/mod_preview.so $(DESTDIR)$(BINDIR)/preview-token \
	    $(DESTDIR)$(BINDIR)/preview-cache \
	    $(DESTDIR)$(MODSDIR)/preview.load $(DESTDIR)$(MODSDIR)/preview.conf
define not_packaged
	@if [ -z "$(DESTDIR)" ] && dpkg-query -S $(LIBEXECDIR)/mod_preview.so >/dev/null 2>&1; then \
	    echo "$@: $(LIBEXECDIR)/mod_preview.so belongs to a Debian package: apt-get remove libapache2-mod-preview first"; \
	    exit 1; fi
endef

# ASan+UBSan build in build/asan/ (core, module, CLI, unit tests), apart from
# the normal build: its objects are compiled here, not by apxs next to the
# sources; apxs (libtool) only links build/asan/.libs/mod_preview.so.
# clang, not gcc: gcc's UBSan is a library of its own beside libasan and
# ignores log_path= when both are loaded, so its reports could not be
# collected; clang's one runtime holds both. The module is linked without the
# runtime, as clang does for any shared object: httpd gets it preloaded (see
# tests/asan/httpd), the CLI and the unit tests link it. -O1 keeps stack
# traces close to the source.
ASAN_CC     := clang
AB          := $(B)/asan
SANITIZE    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
CFLAGS_ASAN := -std=gnu11 -O1 -g -fPIC $(SANITIZE) $(WARN) -Iinclude $(PKG_CFLAGS)
ASAN_CORE_LIB := $(AB)/libpvcore.a
# Red zones between our pool allocations (tests/asan/pool_redzones.c).
ASAN_POOL   := $(AB)/pool_redzones.o
ASAN_WRAP   := -Wl,--wrap=apr_palloc
ASAN_GLUE_OBJ := $(GLUE_SRC:mod_preview/%.c=$(AB)/glue/%.o)
ASAN_MODULE := $(AB)/.libs/mod_preview.so
ASAN_UNIT_OBJ := $(UNIT_SRC:tests/unit/%.c=$(AB)/unit/%.o)
ASAN_UNIT_BIN := $(AB)/unit/pv_unit

asan-build: $(ASAN_MODULE) $(AB)/preview-token $(AB)/preview-cache $(ASAN_UNIT_BIN)

$(AB)/core/%.o: mod_preview/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CFLAGS_ASAN) -c -o $@ $<

$(ASAN_CORE_LIB): $(CORE_SRC:mod_preview/%.c=$(AB)/core/%.o)
	@rm -f $@
	ar rcs $@ $^

# httpd's command tables end with {NULL}: clang's -Wextra wants every field.
$(AB)/glue/%.o: mod_preview/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CFLAGS_ASAN) -Wno-unused-parameter \
	    -Wno-missing-field-initializers -I$(shell $(APXS) -q INCLUDEDIR) -c -o $@ $<

$(ASAN_POOL): tests/asan/pool_redzones.c
	@mkdir -p $(@D)
	$(ASAN_CC) $(CFLAGS_ASAN) -c -o $@ $<

$(ASAN_MODULE): $(ASAN_GLUE_OBJ) $(ASAN_CORE_LIB) $(ASAN_POOL)
	$(APXS) -c -o $(AB)/mod_preview.la -Wl,$(ASAN_WRAP) $(ASAN_GLUE_OBJ) $(ASAN_POOL) \
	    $(ASAN_CORE_LIB) $(PKG_LIBS) >$(AB)/apxs.log 2>&1 || { cat $(AB)/apxs.log; exit 1; }

$(AB)/preview-%: mod_preview/cli_preview_%.c $(HEADERS) $(ASAN_CORE_LIB) $(ASAN_POOL)
	$(ASAN_CC) $(CFLAGS_ASAN) $(ASAN_WRAP) -o $@ $< $(ASAN_POOL) $(ASAN_CORE_LIB) $(PKG_LIBS)

$(AB)/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h) $(HEADERS)
	@mkdir -p $(@D)
	$(ASAN_CC) $(CFLAGS_ASAN) -Itests/unit $$(pkg-config --cflags check) -c -o $@ $<

# The same runner and suite list as build/unit/pv_unit.
$(ASAN_UNIT_BIN): tests/unit/main.c $(ASAN_UNIT_OBJ) $(ASAN_CORE_LIB) $(ASAN_POOL)
	$(ASAN_CC) $(CFLAGS_ASAN) $(ASAN_WRAP) $$(pkg-config --cflags check) \
	    '-DPV_TEST_UNITS=$(UNIT_LIST)' -o $@ $< $(ASAN_UNIT_OBJ) \
	    $(ASAN_POOL) $(ASAN_CORE_LIB) $(PKG_LIBS) $(UNIT_LIBS)

# The ASan runtime the module needs preloaded into httpd.
asan-runtime:
	@$(ASAN_CC) -print-file-name=libclang_rt.asan-$$(uname -m).so

# The asan suite alone (the test command runs it among the others).
asan: deps
	@PV_SUITES=asan tests/run-all

install: all
	$(not_packaged)
	@install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MODSDIR)
	@$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$(LIBEXECDIR) -n preview mod_preview/mod_preview.la \
	    >$(B)/apxs-install.log 2>&1 || { cat $(B)/apxs-install.log; exit 1; }
	@install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/preview-token
	@install -m 0755 $(CACHE_CLI) $(DESTDIR)$(BINDIR)/preview-cache
	@install -m 0644 conf/preview.load conf/preview.conf $(DESTDIR)$(MODSDIR)/
	@printf 'installed %s\n' $(INSTALLED)

uninstall:
	$(not_packaged)
	@enabled=$(DESTDIR)$$(dirname $(MODSDIR))/mods-enabled/preview.load; \
	if [ -e "$$enabled" ] || [ -L "$$enabled" ]; then \
	    echo "uninstall: the module is enabled ($$enabled): a2dismod preview first"; exit 1; fi
	@for f in $(INSTALLED); do if [ -e "$$f" ]; then rm -f "$$f" && echo "removed $$f"; fi; done

# The Debian package libapache2-mod-preview (debian/): source and binary,
# built by dpkg-buildpackage in a copy of the tree, so that its clean step
# leaves this one alone; .deb, .dsc, .changes and the log land in build/deb/.
DEB_SRC = $(B)/deb/libapache2-mod-preview-$$(dpkg-parsechangelog -S Version)

deb:
	@rm -rf $(B)/deb && mkdir -p $(DEB_SRC)
	@tar -cf - --exclude-vcs --exclude=./build --exclude=./tests/run --exclude=./demo \
	    --exclude=./tests/t/TEST --exclude=./tests/t/logs \
	    --exclude=./tests/npm/node_modules . | tar -C $(DEB_SRC) -xf -
	@cd $(DEB_SRC) && dpkg-buildpackage -us -uc >../build.log 2>&1 \
	    || { tail -40 ../build.log; echo "deb: dpkg-buildpackage failed, see $(B)/deb/build.log"; exit 1; }
	@rm -rf $(DEB_SRC)
	@ls $(B)/deb/*.deb $(B)/deb/*.changes

unit: $(UNIT_BIN)
	@tests/run-unit $(UNIT_BIN)

test: deps
	@tests/run-all

fuzz: deps
	@tests/fuzz/run $${FUZZ_SECONDS:-300}

bench: deps all
	@tests/bench/run

demo: deps all
	@tests/demo start

stop:
	@tests/demo stop

format:
	clang-format -i $(GLUE_SRC) $(CORE_SRC) $(wildcard mod_preview/cli_*.c) $(HEADERS) $(wildcard tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/bench/*.c tests/asan/*.c)

format-check:
	@tests/format-check

deps:
	@tests/deps

clean:
	@if [ -d tests/run/mariadb ]; then tests/mariadb stop tests/run/mariadb; fi
	rm -rf $(B) tests/run tests/fuzz/corpus-run
	rm -rf mod_preview/.libs mod_preview/*.o mod_preview/*.lo mod_preview/*.slo mod_preview/*.la
	@if [ -f tests/t/TEST ]; then (cd tests/t && ./TEST -clean >/dev/null 2>&1); fi
	rm -rf tests/t/TEST tests/t/logs tests/t/conf/httpd.conf tests/t/conf/extra.conf \
	    tests/t/conf/apache_test_config.pm tests/t/conf/modperl_inc.pl tests/t/htdocs/index.html tests/t/state
