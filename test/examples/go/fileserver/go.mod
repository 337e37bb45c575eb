module ringo/test/fileserver

go 1.19
