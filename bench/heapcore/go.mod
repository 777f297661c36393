module goparked.bench/heapcore

go 1.19
