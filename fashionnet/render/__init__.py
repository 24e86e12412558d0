"""Rich renderables for every command. Nothing here computes model results; it only draws them."""
