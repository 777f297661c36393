module goparked.test/cgo

go 1.19
