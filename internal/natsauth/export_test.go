package natsauth

// Signed is what a signature covers, for tests that sign with a bare key what Sign would refuse to.
var Signed = signed
