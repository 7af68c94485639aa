# The README's two commands: `make demo` and `make test`. Both install Debian's clickhouse-server first when it is
# missing and they run as root.
GO ?= go

# What `make test` installs besides Go and clickhouse-server (.ci/install-tools) lives here, outside the clone, so
# that clones share it: ClickHouse 26.7 as chDB's libchdb.so, which the tests load by CHDB_LIB_PATH, and the nats
# command (bin/nats), which examples/ runs. (The Node example's dependencies go into examples/node/node_modules.)
EGOV_TOOLS ?= $(HOME)/.cache/egovtrack
export EGOV_TOOLS
export PATH := $(EGOV_TOOLS)/bin:$(PATH)
export CHDB_LIB_PATH ?= $(EGOV_TOOLS)/chdb-26.7.3-stable.1/libchdb.so

.PHONY: demo demo-sql brief test vet generate clickhouse tools bench

demo: clickhouse
	$(if $(THROUGH_2025),EGOV_DEMO_THROUGH_2025=true) $(GO) run ./deploy/demo

# clickhouse-client on the demo's data; Q='SELECT …' runs one query.
demo-sql:
	$(GO) run ./deploy/demo sql "$(Q)"

# The minister's briefing on the demo's data (run make demo first): DATE=YYYY-MM-DD, default the latest day.
brief: clickhouse tools
	$(GO) run ./dashboards brief --demo $(if $(DATE),--date $(DATE))

test: clickhouse tools vet
	$(GO) test ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# The benchmark (deploy/bench/README.md): throughput, freshness, replay and query speed against this machine's own
# limits, and the store's statements per batch on a fresh and a national-scale database, each figure next to its
# target; a table on stdout, deploy/bench/out/bench-results.json and profiles beside it. BENCH_QUICK=1 runs small
# sizes in a few minutes; EGOV_BENCH_* variables set sizes and caps. Never part of test.
bench: clickhouse
	$(GO) build -o bin/projector ./projector
	$(GO) build -o bin/bench ./deploy/bench
	$(if $(BENCH_QUICK),EGOV_BENCH_QUICK=$(BENCH_QUICK)) EGOV_BENCH_PROJECTOR=$(CURDIR)/bin/projector ./bin/bench

generate:
	$(GO) run ./dashboards generate

clickhouse:
	@bash .ci/install-clickhouse

tools:
	@bash .ci/install-tools

# The fuzz targets, one after the other, each for FUZZTIME: the event decoder (and its reading of the envelope), the
# strict JSON reader every entry point uses (its one pass against encoding/json), the spreadsheet reader (any file,
# and a workbook's sheet), the intake API's bodies and the poller's documents. A failure stops the run and leaves the
# input under the package's testdata/fuzz/<target>/: once fixed, keep it there as a regression case.
# make fuzz FUZZTIME=10m
FUZZTIME ?= 60s
FUZZ_TARGETS = \
	./internal/event:FuzzDecode \
	./internal/event:FuzzEnvelopeOf \
	./internal/event:FuzzSchemaAccepts \
	./internal/event/strictjson:FuzzRead \
	./collectors/sheet:FuzzRead \
	./collectors/sheet:FuzzReadXLSX \
	./collectors/intake:FuzzEvents \
	./collectors/intake:FuzzCatalogue \
	./collectors/poll:FuzzDecode

.PHONY: fuzz
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "== $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME); \
	done
