#!/bin/sh
# Prints "NAME PAGE" for every name that a page of man/ documents (an .Nm
# line of its NAME section) and that has no page of its own: `make` gives
# each such name an alias page, `.so man3/PAGE.3`, so that `man NAME`
# finds it. Run from the top of the tree.
for page in man/*.3; do
    awk '/^\.Sh NAME/ { on = 1; next }
         /^\.Sh/ { on = 0 }
         on && /^\.Nm / { print $2 }' "$page" |
    while read -r name; do
        [ -e "man/$name.3" ] || echo "$name $(basename "$page" .3)"
    done
done
