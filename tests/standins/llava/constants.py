DEFAULT_IMAGE_TOKEN = "<image>"
IMAGE_TOKEN_INDEX = -200  # the id LLaVA puts where an image's features go
