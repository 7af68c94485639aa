# The README's two commands: `make demo` and `make test`. Both install Debian's clickhouse-server first when it is
# missing and they run as root.
GO ?= go

.PHONY: demo demo-sql test vet generate clickhouse

demo: clickhouse
	$(GO) run ./internal/demo

# clickhouse-client on the demo's data; Q='SELECT …' runs one query.
demo-sql:
	$(GO) run ./internal/demo sql "$(Q)"

test: clickhouse vet
	$(GO) test ./...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

generate:
	$(GO) run ./dashboards generate

clickhouse:
	@bash .ci/install-clickhouse
