package chserver

// Test-only access to the binary search with an injected PATH and directories,
// so tests do not depend on what this machine has installed.
var FindServerBinaryIn = findServerBinary
