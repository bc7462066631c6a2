"""placeholder"""
print("cocoon-boot: agent placeholder")
