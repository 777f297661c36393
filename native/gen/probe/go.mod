module goparked/probe

go 1.19
