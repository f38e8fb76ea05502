module github.com/relayhq/relay

go 1.26.8
