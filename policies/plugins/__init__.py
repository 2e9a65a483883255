"""Built-in benefit plugins, one module per program, registered through the same hooks as third-party ones.

* ``seikatsu_hogo_tsuika`` — 生活保護 追加給付 (``seikatsu-hogo-tsuika``, scenario S1)
* ``kaigo_hokenryo`` — 介護保険料 納入通知書 (``kaigo-hokenryo``, scenario S2)
* ``aircon_josei`` — エアコン購入費助成 (``aircon-josei``, scenario S4)
"""
