//go:build !asan

package foreign

const underASan = false
