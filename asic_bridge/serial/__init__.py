"""BM13xx chip UART: sans-IO codec (:mod:`.codec`), chip table (:mod:`.chips`), PLL
search (:mod:`.pll`); the pyserial driver (:mod:`.driver`) is imported only on use."""
