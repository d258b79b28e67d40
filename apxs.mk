# mod_preview build: make -f apxs.mk [all|install|test|unit|fuzz|bench|demo|stop|format|deps|clean]
#
# The core (mod_preview/pv_*.c, no httpd headers) is built once, position
# independent, into build/libpvcore.a; the module (through apxs), the CLI, the
# unit tests and the fuzzer all link that one archive.

APXS      ?= apxs
CC        ?= cc
DESTDIR   ?=
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
B         := build
comma     := ,

PKGS      := apr-1 apr-util-1 openssl jansson vips libmariadb libxcrypt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      := -Wall -Wextra -Werror
CFLAGS_CORE := -std=gnu11 -O2 -g -fPIC $(WARN) -Iinclude $(PKG_CFLAGS)

CORE_SRC  := $(sort $(wildcard mod_preview/pv_*.c))
CORE_OBJ  := $(CORE_SRC:mod_preview/%.c=$(B)/core/%.o)
CORE_LIB  := $(B)/libpvcore.a
GLUE_SRC  := $(sort $(wildcard mod_preview/mod_preview*.c))
HEADERS   := $(wildcard include/*.h)
MODULE    := mod_preview/.libs/mod_preview.so
CLI       := $(B)/preview-token
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)

.PHONY: all install test unit fuzz bench bench-verify demo stop format format-check deps clean

all: $(MODULE) $(CLI)

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
	    -Iinclude $(filter -I%,$(PKG_CFLAGS)) \
	    $(GLUE_SRC) $(CORE_LIB) $(PKG_LIBS) >$(B)/apxs.log 2>&1 \
	    || { cat $(B)/apxs.log; exit 1; }

$(CLI): mod_preview/cli_preview_token.c $(HEADERS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

$(B)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(HEADERS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -Itests/unit $$(pkg-config --cflags check) -o $@ $< \
	    $(CORE_LIB) $(PKG_LIBS) $$(pkg-config --libs check)

# Token verification micro-benchmark: make -f apxs.mk bench-verify
$(B)/bench/bench_verify: tests/bench/bench_verify.c $(HEADERS) $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_CORE) -o $@ $< $(CORE_LIB) $(PKG_LIBS)

bench-verify: $(B)/bench/bench_verify
	@$(B)/bench/bench_verify

install: all
	$(APXS) -i -S LIBEXECDIR=$(DESTDIR)$$($(APXS) -q LIBEXECDIR) -n preview mod_preview/mod_preview.la
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)/etc/apache2/mods-available
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/preview-token
	install -m 0644 conf/preview.load conf/preview.conf $(DESTDIR)/etc/apache2/mods-available/

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
	clang-format -i $(GLUE_SRC) $(CORE_SRC) mod_preview/cli_preview_token.c $(HEADERS) $(UNIT_SRC) $(wildcard tests/unit/*.h tests/fuzz/*.c tests/bench/*.c)

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
