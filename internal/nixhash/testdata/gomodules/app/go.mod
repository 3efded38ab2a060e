module example.com/app

go 1.26.0

require example.com/lib v0.0.0

require github.com/tidwall/match v1.1.1 // indirect

replace example.com/lib => ../lib
