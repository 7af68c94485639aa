// Package chserver starts and stops a throwaway clickhouse-server of this program's own, on free ports of 127.0.0.1
// with everything in one directory, for tests (internal/chdb/chdbtest), `make demo` and `make bench`; and, for the
// demo, uses a ClickHouse that already answers or installs Debian's package first (Ensure). Production connects to
// its ClickHouse through internal/chdb alone.
package chserver
