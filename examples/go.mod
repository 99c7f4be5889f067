module github.com/foreigncall/foreign/examples

go 1.26

require github.com/foreigncall/foreign v0.0.0

// The examples build against the library in this repository, so a change
// to it is tested here in the same run.
replace github.com/foreigncall/foreign => ../
