module example.com/lib

go 1.26.0

require github.com/tidwall/match v1.1.1
