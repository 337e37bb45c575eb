module ringo/bench/dialbench

go 1.19
