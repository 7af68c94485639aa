package board

// CoverageIn is coverageIn, for the tests of the views of history.
var CoverageIn = coverageIn
