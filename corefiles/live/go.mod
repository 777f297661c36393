module goparked/corefiles/live

go 1.19
