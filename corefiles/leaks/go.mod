module goparked.test/leaks

go 1.19
