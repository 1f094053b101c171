module github.com/tonepay/tonepay

go 1.26.8
