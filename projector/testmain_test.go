package main

import (
	"testing"

	"github.com/egovtrack/egovtrack/internal/chdb/chdbtest"
)

// The command's tests share one throwaway ClickHouse server, stopped when they are done.
func TestMain(m *testing.M) { chdbtest.Main(m) }
