# a source path naming a device (/dev/zero) must not be read until memory runs out
# expect: not a regular file
$STARC check /dev/zero
