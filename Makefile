# Reflexo — top-level build.
#
#   make                 build the extension (PGXS; needs only PostgreSQL's and OpenSSL's headers)
#   make install         install the extension into the PostgreSQL found by pg_config
#   make daemons         build reflexo-sync, reflexo-api and ghl-sim (daemon/build/)
#   make install-daemons install reflexo-sync, reflexo-api and their man pages (DAEMON_PREFIX);
#                        ghl-sim is a test tool and stays in daemon/build/
#   make settings-docs   regenerate .env.example, deploy/reflexo-api.env.example and the man
#                        pages' ENVIRONMENT sections from the daemons' settings tables
#   make installcheck    run the pgTAP, isolation and TAP suites against a running server
#   make check           install what is missing, build, and run every suite on throwaway clusters
#   make run             start the whole system locally (see README.md)
#   make bench           run the benchmarks in bench/
#   make fuzz            fuzz the parsers of outside input (FUZZ_SECONDS per target)
#
# check, run, bench, fuzz and the daemon goals work on a machine without
# PostgreSQL's server headers: they must not read PGXS here.

PG_CONFIG ?= pg_config
DRIVER_GOALS := check run bench fuzz deps
DAEMON_GOALS := daemons daemons-asan install-daemons clean-daemons settings-docs
ONLY_DAEMON_GOALS := $(and $(MAKECMDGOALS),$(if $(filter-out $(DAEMON_GOALS),$(MAKECMDGOALS)),,yes))
.DEFAULT_GOAL := all

# The daemons: their own Makefile, their own libraries (daemon/Makefile).
DAEMON_PREFIX ?= /usr/local
.PHONY: $(DAEMON_GOALS)
daemons:
	$(MAKE) -C daemon
daemons-asan:
	$(MAKE) -C daemon SANITIZE=1
install-daemons: daemons
	install -m 755 -D daemon/build/reflexo-sync '$(DESTDIR)$(DAEMON_PREFIX)/bin/reflexo-sync'
	install -m 644 -D docs/reflexo-sync.8 '$(DESTDIR)$(DAEMON_PREFIX)/share/man/man8/reflexo-sync.8'
	install -m 755 -D daemon/build/reflexo-api '$(DESTDIR)$(DAEMON_PREFIX)/bin/reflexo-api'
	install -m 644 -D docs/reflexo-api.8 '$(DESTDIR)$(DAEMON_PREFIX)/share/man/man8/reflexo-api.8'
# .env.example, deploy/reflexo-api.env.example and the man pages' settings, from the daemons' tables
settings-docs: daemons
	scripts/settings-docs.sh
clean-daemons:
	$(MAKE) -C daemon clean

ifneq ($(filter $(DRIVER_GOALS),$(MAKECMDGOALS)),)

.PHONY: $(DRIVER_GOALS)
check:
	@tests/check.sh
run:
	@scripts/run.sh
bench:
	@bench/run.sh
fuzz:
	@tests/fuzz/run.sh
deps:
	@scripts/deps.sh check

else ifeq ($(ONLY_DAEMON_GOALS),)
# the extension's PGXS build (not read for daemon goals alone)

EXTENSION = reflexo
# the version being built is the control file's; every earlier release is
# reached from 0.1.0's install script through the upgrade scripts
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" reflexo.control)
MODULE_big = reflexo
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard extension/*.c)))
DATA_built = sql/reflexo--$(EXTVERSION).sql
DATA = sql/reflexo--0.1.0.sql $(wildcard sql/reflexo--*--*.sql)
EXTRA_CLEAN = tests/unit/*.test tmp_check tmp_check_iso output_iso po/*.mo

PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server) -Iextension
PG_CFLAGS = -Wall -Wextra -Werror
SHLIB_LINK = -lcrypto
# rebuild objects when a header they include changes (dependencies in .deps/)
override autodepend = yes

ISOLATION_SPECS = $(basename $(notdir $(sort $(wildcard tests/isolation/specs/*.spec))))
PROVE_TESTS = $(sort $(wildcard tests/t/*.pl))
UNIT_TESTS = $(patsubst %.c,%.test,$(sort $(wildcard tests/unit/test_*.c)))

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/reflexo--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

# Message catalogues (po/<lang>.po), installed where the server's gettext
# looks for the text domain the C code uses (TEXTDOMAIN in extension/reflexo.h).
NLS_LANGUAGES = $(basename $(notdir $(wildcard po/*.po)))
NLS_FILES = $(patsubst %,po/%.mo,$(NLS_LANGUAGES))
LOCALEDIR = $(shell $(PG_CONFIG) --localedir)
all: $(NLS_FILES)
po/%.mo: po/%.po
	msgfmt -c -o $@ $<
install: install-nls
install-nls: $(NLS_FILES)
	for lang in $(NLS_LANGUAGES); do \
		$(INSTALL_DATA) -D po/$$lang.mo '$(DESTDIR)$(LOCALEDIR)'/$$lang/LC_MESSAGES/reflexo-$(MAJORVERSION).mo || exit 1; \
	done
# po/reflexo.pot: the messages to translate, after changing them in C
update-po:
	xgettext -o po/reflexo.pot --package-name=reflexo --package-version=$(EXTVERSION) --from-code=UTF-8 -L C \
		--no-location --sort-output -k_ -kgettext_noop -kerrmsg -kerrdetail -kerrhint -kerrcontext \
		-kerrmsg_plural:1,2 -kerrdetail_plural:1,2 -kngettext:1,2 -kghl_hours_error:1 extension/*.c
	for po in po/*.po; do msgmerge -q -U --backup=none $$po po/reflexo.pot; done
.PHONY: install-nls update-po

clean: clean-daemons

# installcheck runs every suite against the server in PGHOST/PGPORT; the
# TAP suites start their own clusters from the installation PG_CONFIG names.
installcheck: installcheck-pgtap installcheck-isolation installcheck-tap installcheck-unit
.PHONY: installcheck-pgtap installcheck-isolation installcheck-tap installcheck-unit unit

installcheck-pgtap:
	tests/pgtap/run.sh

installcheck-isolation:
	$(pg_isolation_regress_installcheck) --inputdir=tests/isolation \
		--dbname=reflexo_isolation --load-extension=reflexo $(ISOLATION_SPECS)

# the end-to-end tests run the daemons' sanitizer build
installcheck-tap: daemons-asan
	$(prove_installcheck)

unit: $(UNIT_TESTS)
installcheck-unit: unit
	$(PROVE) $(UNIT_TESTS)

# Unit tests of the daemons link their sanitizer-built libraries (daemon/Makefile).
UNIT_CFLAGS = -Wall -Wextra -Werror -g -D_GNU_SOURCE -fsanitize=address,undefined \
	-fno-omit-frame-pointer -Itests/unit
DAEMON_ASAN_LIBS = $(addprefix daemon/build-asan/,libapi.a libsync.a libsim.a libcommon.a)
DAEMON_PKGS = libmicrohttpd jansson libcurl libcrypto libpq libsodium
.PHONY: daemon-asan-libraries
daemon-asan-libraries:
	$(MAKE) -C daemon SANITIZE=1 libraries
tests/unit/test_week_schedule.test: tests/unit/test_week_schedule.c extension/week_schedule.c
	$(CC) $(UNIT_CFLAGS) -Iextension -o $@ $^
tests/unit/test_%.test: tests/unit/test_%.c daemon-asan-libraries
	$(CC) $(UNIT_CFLAGS) -Idaemon $$(pkg-config --cflags $(DAEMON_PKGS)) -o $@ $< $(DAEMON_ASAN_LIBS) \
		$$(pkg-config --libs $(DAEMON_PKGS)) -lpthread

endif
