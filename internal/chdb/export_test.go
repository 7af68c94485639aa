package chdb

// Test-only access to the version check of Open.
var KnowsAsyncInsert = knowsAsyncInsert
