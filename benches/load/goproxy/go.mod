module portcullis/goproxy

go 1.19
