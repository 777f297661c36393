module goparked.test/reach

go 1.19
