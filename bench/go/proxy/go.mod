module ringo/bench/proxy

go 1.19
