module ringo/bench/hello

go 1.19
