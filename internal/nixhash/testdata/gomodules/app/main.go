// Command app is a fixture: a module that reaches a sibling module through a local replace.
package main

import "example.com/lib"

func main() { println(lib.Match("a", "*")) }
