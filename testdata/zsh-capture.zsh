# Prints the first set of candidates zsh offers for each command line, via an interactive zsh
# in a pty: each line is typed, then TAB; compadd is wrapped to print what it was given.
# Usage: zsh -f zsh-capture.zsh SCRIPT LINE...   Output: "== LINE" then one candidate a line.
# One zsh for all lines: compinit alone takes seconds on a loaded machine.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT=; autoload -U compinit; compinit -u -D; source ${(q)1}"
zpty -w z 'compadd () { builtin compadd -O __hits "$@"; print -l -- ">>" $__hits "<<" }'
zpty -w z 'zstyle ":completion:*" list-grouped false; zstyle ":completion:*" insert-tab false'
shift
for l in "$@"; do
  # The echo of the typed command matches READY too, hence two rounds.
  zpty -w z 'print READY'
  zpty -r z line '*READY*'
  zpty -w z 'print READY'
  zpty -r z line '*READY*'
  print -r -- "== $l"
  zpty -n -w z "$l"$'\t'
  integer tog=0
  while zpty -r z line; do
    [[ $line == *'<<'* ]] && break
    [[ $line == *'>>'* ]] && { tog=1; continue }
    (( tog )) && [[ -n ${line%$'\r'} ]] && print -r -- ${line%$'\r'}
  done
  # Clear the typed line before the next one.
  zpty -n -w z $'\C-u'
done
zpty -d z
