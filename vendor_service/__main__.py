from vendor_service.cli import main

main()
