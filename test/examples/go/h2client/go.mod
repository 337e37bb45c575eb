module ringo/test/h2client

go 1.19
