module ringo/bench/load

go 1.19
