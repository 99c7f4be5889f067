module github.com/foreigncall/foreign

go 1.26
