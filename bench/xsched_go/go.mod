module xsched_go

go 1.19
