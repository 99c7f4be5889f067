package main

// For timers_test.go, which cannot use cgo itself (no _test.go file can).

/*
#include "timers.h"
*/
import "C"

import (
	"os"
	"syscall"
)

// signalHandler returns the address of sig's current handler.
func signalHandler(sig syscall.Signal) uintptr { return uintptr(C.tm_handler_of(C.int(sig))) }

// raiseSignal sends sig to this process.
func raiseSignal(sig syscall.Signal) { _ = syscall.Kill(os.Getpid(), sig) }
